package config

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// userEnv is a non-root environment with XDG_STATE_HOME set.
var userEnv = environment{
	getenv: func(k string) string {
		if k == "XDG_STATE_HOME" {
			return "/home/u/.state"
		}
		return ""
	},
	home: "/home/u",
}

func loadGood(t *testing.T, name string, env environment) *Config {
	t.Helper()
	path := filepath.Join("testdata", "good", name)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := parse(data, path, env)
	if err != nil {
		t.Fatalf("%s does not validate:\n%v", name, err)
	}
	return c
}

func TestDefaultsMinimal(t *testing.T) {
	c := loadGood(t, "minimal.yaml", userEnv)
	if c.StateDir != "/home/u/.state/cutover" || c.Admin.Socket != "/home/u/.state/cutover/admin.sock" {
		t.Errorf("state_dir %q socket %q", c.StateDir, c.Admin.Socket)
	}
	if c.Listen.HTTP != ":8000" || c.Listen.HTTPS != "" {
		t.Errorf("listen = %+v, want http :8000 only", c.Listen)
	}
	if c.Listen.ReadHeaderTimeout.D() != 10*time.Second || c.Listen.IdleTimeout.D() != 120*time.Second ||
		c.Listen.MaxHeaderBytes != 64<<10 {
		t.Errorf("listen timeouts = %+v", c.Listen)
	}
	if !c.AccessLogEnabled() || c.AccessLog == nil {
		t.Error("access log should default to on")
	}
	s := c.Services["web"]
	if s.Name != "web" || s.Line != 3 || !slices.Equal(c.ServiceOrder, []string{"web"}) {
		t.Errorf("name %q line %d order %v", s.Name, s.Line, c.ServiceOrder)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"hosts", s.Hosts, []string{"*"}},
		{"path_prefix", s.PathPrefix, "/"},
		{"runtime", s.Runtime, RuntimeProcess},
		{"host", s.Host, "127.0.0.1"},
		{"replicas", s.Replicas, 1},
		{"strategy", s.Strategy, StrategySwitch},
		{"drain_timeout", s.DrainTimeout.D(), 30 * time.Second},
		{"deploy_timeout", s.DeployTimeout.D(), 60 * time.Second},
		{"standby", s.StandbyDuration(), 5 * time.Minute},
		{"stop_grace", s.StopGrace.D(), 10 * time.Second},
		{"hooks.timeout", s.Hooks.Timeout.D(), 60 * time.Second},
		{"response_header_timeout", s.ResponseHeaderTimeout.D(), 60 * time.Second},
		{"max_body_bytes", s.MaxBodyBytes, int64(0)},
		{"balance", s.Balance, BalanceLeastInflight},
		{"sticky.cookie", s.Sticky.Cookie, "cutover_bucket"},
		{"force.header", s.Force.Header, "X-Cutover-Version"},
		{"force.cookie", s.Force.Cookie, "cutover_version"},
		{"process.log_max_bytes", s.Process.LogMaxBytes, int64(10 << 20)},
		{"health.type", s.Health.Type, "http"},
		{"health.path", s.Health.Path, "/"},
		{"health.status", s.Health.Status, "200-399"},
		{"health.interval", s.Health.Interval.D(), time.Second},
		{"health.timeout", s.Health.Timeout.D(), 2 * time.Second},
		{"health.healthy_threshold", s.Health.HealthyThreshold, 2},
		{"health.unhealthy_threshold", s.Health.UnhealthyThreshold, 3},
		{"canary.steps", s.Canary.Steps, []float64{5, 25, 50, 100}},
		{"canary.step_duration", s.Canary.StepDuration.D(), 30 * time.Second},
		{"canary.max_step_duration", s.Canary.MaxStepDuration.D(), 10 * time.Minute},
		{"canary.on_insufficient_data", s.Canary.OnInsufficientData, "pause"},
		{"canary.confidence", s.Canary.Confidence, 0.99},
		{"canary.min_requests", s.Canary.MinRequests, 100},
		{"canary.max_error_rate_increase", s.Canary.MaxErrorRateIncrease, 1.0},
		{"canary.max_latency_increase", s.Canary.MaxLatencyIncrease, 20.0},
		{"canary.min_latency_increase", s.Canary.MinLatencyIncrease.D(), 5 * time.Millisecond},
		{"rolling.max_surge", s.Rolling.MaxSurge, 1},
		{"rolling.max_unavailable", s.Rolling.MaxUnavailable, 0},
	}
	for _, c := range checks {
		if !equalAny(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if lo, hi := s.Health.StatusRange(); lo != 200 || hi != 399 {
		t.Errorf("StatusRange = %d-%d", lo, hi)
	}
}

func equalAny(a, b any) bool {
	switch a := a.(type) {
	case []string:
		return slices.Equal(a, b.([]string))
	case []float64:
		return slices.Equal(a, b.([]float64))
	}
	return a == b
}

func TestDefaultsDependOnUser(t *testing.T) {
	root := loadGood(t, "bare.yaml", environment{root: true, getenv: userEnv.getenv, home: "/root"})
	if root.StateDir != "/var/lib/cutover" || root.Listen.HTTP != ":80" || root.Admin.Socket != "/var/lib/cutover/admin.sock" {
		t.Errorf("root: state_dir %q http %q socket %q", root.StateDir, root.Listen.HTTP, root.Admin.Socket)
	}
	noXDG := loadGood(t, "bare.yaml", environment{getenv: func(string) string { return "" }, home: "/home/u"})
	if noXDG.StateDir != "/home/u/.local/state/cutover" || noXDG.Listen.HTTP != ":8000" {
		t.Errorf("user: state_dir %q http %q", noXDG.StateDir, noXDG.Listen.HTTP)
	}
	if len(noXDG.Services) != 1 || len(noXDG.ServiceOrder) != 1 {
		t.Errorf("bare config has services %v, want [web]", noXDG.ServiceOrder)
	}
}

func TestTLSAndAdminToken(t *testing.T) {
	c := loadGood(t, "tls.yaml", userEnv)
	if c.Listen.HTTP != "" {
		t.Errorf("http = %q, want none when only https is set", c.Listen.HTTP)
	}
	if want := filepath.Join("testdata", "good", "cert.pem"); c.Listen.TLS.Cert != want {
		t.Errorf("cert = %q, want %q (relative to the config file)", c.Listen.TLS.Cert, want)
	}
	if c.AccessLogEnabled() {
		t.Error("access_log: false ignored")
	}
	tok, err := c.AdminToken(nil)
	if err != nil || tok != "s3cret-token" {
		t.Errorf("AdminToken = %q, %v", tok, err)
	}
	got := c.TrustedPrefixes()
	want := []string{"10.0.0.0/8", "192.0.2.1/32", "::1/128"}
	if len(got) != len(want) {
		t.Fatalf("TrustedPrefixes = %v", got)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("TrustedPrefixes[%d] = %s, want %s", i, got[i], want[i])
		}
	}
}

func TestMergeKeys(t *testing.T) {
	c := loadGood(t, "anchors.yaml", userEnv)
	a, b := c.Services["a"], c.Services["b"]
	if !slices.Equal(a.Hosts, []string{"a.example.com"}) || !slices.Equal(b.Hosts, []string{"b.example.com"}) {
		t.Errorf("hosts %v %v, want lowercased", a.Hosts, b.Hosts)
	}
	if a.Health.Path != "/healthz" || b.Health.Path != "/healthz" {
		t.Errorf("merged health paths %q %q", a.Health.Path, b.Health.Path)
	}
	if a.DrainTimeout.D() != 5*time.Second || b.DrainTimeout.D() != 7*time.Second {
		t.Errorf("drain timeouts %s %s, want 5s and the override 7s", a.DrainTimeout, b.DrainTimeout)
	}
	if !slices.Equal(c.ServiceOrder, []string{"a", "b"}) {
		t.Errorf("order %v", c.ServiceOrder)
	}
}

func TestExplicitZeroKept(t *testing.T) {
	s := loadGood(t, "explicit_zero.yaml", userEnv).Services["web"]
	if s.StandbyDuration() != 0 || s.DrainTimeout != 0 {
		t.Errorf("standby %s drain %s, want 0 kept", s.StandbyDuration(), s.DrainTimeout)
	}
	if s.Rolling.MaxSurge != 0 || s.Rolling.MaxUnavailable != 1 {
		t.Errorf("rolling = %+v, want surge 0 unavailable 1", s.Rolling)
	}
}

func TestApplyDefaultsInCode(t *testing.T) {
	s := &Service{Name: "web", Process: &Process{Command: "./web"}, Ports: []int{1, 2}}
	s.ApplyDefaults()
	if s.Runtime != RuntimeProcess || s.Health.Path != "/" || s.Rolling.MaxSurge != 1 || s.StandbyDuration() != 5*time.Minute {
		t.Errorf("service defaults not applied: %+v", s)
	}
	c := &Config{Services: map[string]*Service{"web": {Process: &Process{Command: "./web"}, Ports: []int{9001, 9002}}}}
	c.ApplyDefaults()
	if c.Services["web"].Name != "web" || !slices.Equal(c.ServiceOrder, []string{"web"}) || c.Admin.Socket == "" {
		t.Errorf("config defaults not applied: order %v socket %q", c.ServiceOrder, c.Admin.Socket)
	}
	if err := c.Validate(nil); err != nil {
		t.Errorf("Validate of a defaulted config: %v", err)
	}
}
