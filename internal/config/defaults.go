package config

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Default values that are not derived from the environment.
const (
	DefaultReadHeaderTimeout     = Duration(10 * time.Second)
	DefaultIdleTimeout           = Duration(120 * time.Second)
	DefaultMaxHeaderBytes        = 64 << 10
	DefaultBodyReadTimeout       = Duration(60 * time.Second)
	DefaultMinBodyRate           = 500
	DefaultMaxConnections        = 10_000
	DefaultHost                  = "127.0.0.1"
	DefaultDrainTimeout          = Duration(30 * time.Second)
	DefaultDeployTimeout         = Duration(60 * time.Second)
	DefaultStandby               = Duration(5 * time.Minute)
	DefaultStopGrace             = Duration(10 * time.Second)
	DefaultHookTimeout           = Duration(60 * time.Second)
	DefaultResponseHeaderTimeout = Duration(60 * time.Second)
	DefaultLogMaxBytes           = 10 << 20
	DefaultContainerPort         = 8080
	DefaultStickyCookie          = "cutover_bucket"
	DefaultForceHeader           = "X-Cutover-Version"
	DefaultForceCookie           = "cutover_version"
	// TokenEnv is the environment variable that may hold the admin API token.
	TokenEnv = "CUTOVER_TOKEN"
)

// Balance kinds.
const (
	BalanceRoundRobin    = "round_robin"
	BalanceLeastInflight = "least_inflight"
)

// DefaultCanarySteps are the canary traffic percentages used when none are given.
var DefaultCanarySteps = []float64{5, 25, 50, 100}

// environment is what defaults depend on outside the file.
type environment struct {
	root   bool
	getenv func(string) string
	home   string
}

func osEnvironment() environment {
	home, _ := os.UserHomeDir()
	return environment{root: os.Geteuid() == 0, getenv: os.Getenv, home: home}
}

// defaultStateDir is /var/lib/cutover for root, else $XDG_STATE_HOME/cutover,
// else ~/.local/state/cutover.
func (e environment) defaultStateDir() string {
	if e.root {
		return "/var/lib/cutover"
	}
	if x := e.getenv("XDG_STATE_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, "cutover")
	}
	if e.home != "" {
		return filepath.Join(e.home, ".local", "state", "cutover")
	}
	return filepath.Join(os.TempDir(), "cutover-"+strconv.Itoa(os.Geteuid()))
}

func (e environment) defaultHTTP() string {
	if e.root {
		return ":80"
	}
	return ":8000"
}

// ApplyDefaults fills every unset field of c with its documented default,
// treating zero values as unset. Load and Parse already apply defaults (and
// there an explicit zero in the file is kept); ApplyDefaults is for configs
// built in code. It consults the effective user id and $XDG_STATE_HOME.
func (c *Config) ApplyDefaults() {
	c.applyDefaults(osEnvironment())
	c.normalize()
}

// ApplyDefaults fills every unset field of s with its documented default,
// treating zero values as unset, and lowercases Hosts. It is for services
// built in code.
func (s *Service) ApplyDefaults() {
	s.applyDefaults(func(_ string, zero bool) bool { return zero }, "")
	s.normalize()
}

// normalize lowercases every service's Hosts: host names match
// case-insensitively. It runs after validation so errors quote the file.
func (c *Config) normalize() {
	for _, s := range c.Services {
		if s != nil {
			s.normalize()
		}
	}
}

func (s *Service) normalize() {
	for i, h := range s.Hosts {
		s.Hosts[i] = strings.ToLower(h)
	}
}

// unsetFunc reports whether the field at path should take its default;
// zero tells whether the field holds its zero value.
type unsetFunc func(path string, zero bool) bool

func (c *Config) unset() unsetFunc {
	if c.src == nil {
		return func(_ string, zero bool) bool { return zero }
	}
	return func(path string, _ bool) bool { return !c.src.set[path] }
}

func (c *Config) applyDefaults(env environment) {
	unset := c.unset()
	if unset("state_dir", c.StateDir == "") {
		c.StateDir = env.defaultStateDir()
	}
	c.Cluster.applyDefaults(unset)
	if unset("admin.socket", c.Admin.Socket == "") {
		c.Admin.Socket = filepath.Join(c.StateDir, "admin.sock")
	}
	l := &c.Listen
	if unset("listen.http", l.HTTP == "") && l.HTTPS == "" {
		l.HTTP = env.defaultHTTP()
	}
	if unset("listen.read_header_timeout", l.ReadHeaderTimeout == 0) {
		l.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if unset("listen.idle_timeout", l.IdleTimeout == 0) {
		l.IdleTimeout = DefaultIdleTimeout
	}
	if unset("listen.max_header_bytes", l.MaxHeaderBytes == 0) {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if unset("listen.body_read_timeout", l.BodyReadTimeout == 0) {
		l.BodyReadTimeout = DefaultBodyReadTimeout
	}
	if unset("listen.min_body_rate", l.MinBodyRate == 0) {
		l.MinBodyRate = DefaultMinBodyRate
	}
	if unset("listen.max_connections", l.MaxConnections == 0) {
		l.MaxConnections = DefaultMaxConnections
	}
	if a := l.ACME; a != nil {
		if unset("listen.acme.challenges", len(a.Challenges) == 0) {
			a.Challenges = []string{ChallengeHTTP01, ChallengeTLSALPN01}
			if l.HTTP == "" {
				a.Challenges = []string{ChallengeTLSALPN01}
			}
		}
		if unset("listen.acme.renew_check", a.RenewCheck == 0) {
			a.RenewCheck = DefaultACMERenewCheck
		}
	}
	if c.AccessLog == nil {
		on := true
		c.AccessLog = &on
	}
	for name, s := range c.Services {
		if s == nil {
			continue
		}
		if s.Name == "" {
			s.Name = name
		}
		s.applyDefaults(unset, "services."+name)
		if s.BodyReadTimeout == nil {
			d := l.BodyReadTimeout
			s.BodyReadTimeout = &d
		}
		if s.MinBodyRate == nil {
			r := l.MinBodyRate
			s.MinBodyRate = &r
		}
	}
	if c.src == nil && len(c.ServiceOrder) != len(c.Services) {
		c.ServiceOrder = sortedKeys(c.Services)
	}
}

// applyDefaults fills s; prefix is the service's field path.
func (s *Service) applyDefaults(unset unsetFunc, prefix string) {
	p := func(field string) string { return prefix + "." + field }
	if unset(p("hosts"), len(s.Hosts) == 0) {
		s.Hosts = []string{"*"}
	}
	if unset(p("path_prefix"), s.PathPrefix == "") {
		s.PathPrefix = "/"
	}
	for i := range s.Redirects {
		if unset(p(fmt.Sprintf("redirects[%d].status", i)), s.Redirects[i].Status == 0) {
			s.Redirects[i].Status = http.StatusMovedPermanently
		}
	}
	for i := range s.Files {
		s.Files[i].applyDefaults(unset, p(fmt.Sprintf("files[%d]", i)))
	}
	if s.HSTS != nil && unset(p("hsts.max_age"), s.HSTS.MaxAge == 0) {
		s.HSTS.MaxAge = DefaultHSTSMaxAge
	}
	if unset(p("runtime"), s.Runtime == "") {
		s.Runtime = RuntimeProcess
	}
	if unset(p("host"), s.Host == "") {
		s.Host = DefaultHost
	}
	if unset(p("replicas"), s.Replicas == 0) {
		s.Replicas = 1
	}
	if unset(p("strategy"), s.Strategy == "") {
		s.Strategy = StrategySwitch
	}
	if unset(p("drain_timeout"), s.DrainTimeout == 0) {
		s.DrainTimeout = DefaultDrainTimeout
	}
	if unset(p("deploy_timeout"), s.DeployTimeout == 0) {
		s.DeployTimeout = DefaultDeployTimeout
	}
	if s.Standby == nil {
		d := DefaultStandby
		s.Standby = &d
	}
	if unset(p("stop_grace"), s.StopGrace == 0) {
		s.StopGrace = DefaultStopGrace
	}
	if unset(p("hooks.timeout"), s.Hooks.Timeout == 0) {
		s.Hooks.Timeout = DefaultHookTimeout
	}
	if unset(p("response_header_timeout"), s.ResponseHeaderTimeout == 0) {
		s.ResponseHeaderTimeout = DefaultResponseHeaderTimeout
	}
	if unset(p("balance"), s.Balance == "") {
		s.Balance = BalanceLeastInflight
	}
	if unset(p("sticky.cookie"), s.Sticky.Cookie == "") {
		s.Sticky.Cookie = DefaultStickyCookie
	}
	if unset(p("force.header"), s.Force.Header == "") {
		s.Force.Header = DefaultForceHeader
	}
	if unset(p("force.cookie"), s.Force.Cookie == "") {
		s.Force.Cookie = DefaultForceCookie
	}
	if s.Process != nil && unset(p("process.log_max_bytes"), s.Process.LogMaxBytes == 0) {
		s.Process.LogMaxBytes = DefaultLogMaxBytes
	}
	if s.Docker != nil {
		s.Docker.applyDefaults(unset, p("docker"))
	}
	if s.Migrations != nil {
		s.Migrations.applyDefaults(unset, p("migrations"))
	}
	s.Health.applyDefaults(unset, p("health"))
	s.Compression.applyDefaults(unset, p("compression"))
	s.Canary.applyDefaults(unset, p("canary"))
	s.Rolling.applyDefaults(unset, p("rolling"))
}

func (dk *Docker) applyDefaults(unset unsetFunc, prefix string) {
	if unset(prefix+".container_port", dk.ContainerPort == 0) {
		dk.ContainerPort = DefaultContainerPort
	}
	if unset(prefix+".network", dk.Network == "") {
		dk.Network = "bridge"
	}
	if unset(prefix+".stop_signal", dk.StopSignal == "") {
		dk.StopSignal = "SIGTERM"
	}
	if unset(prefix+".pull", dk.Pull == "") {
		dk.Pull = "missing"
	}
}

func (h *Health) applyDefaults(unset unsetFunc, prefix string) {
	if unset(prefix+".type", h.Type == "") {
		h.Type = "http"
	}
	if h.Type == "http" && unset(prefix+".path", h.Path == "") {
		h.Path = "/"
	}
	if h.Type == "http" && unset(prefix+".status", h.Status == "") {
		h.Status = "200-399"
	}
	if unset(prefix+".interval", h.Interval == 0) {
		h.Interval = Duration(time.Second)
	}
	if unset(prefix+".timeout", h.Timeout == 0) {
		h.Timeout = Duration(2 * time.Second)
	}
	if unset(prefix+".healthy_threshold", h.HealthyThreshold == 0) {
		h.HealthyThreshold = 2
	}
	if unset(prefix+".unhealthy_threshold", h.UnhealthyThreshold == 0) {
		h.UnhealthyThreshold = 3
	}
}

func (cn *Canary) applyDefaults(unset unsetFunc, prefix string) {
	if unset(prefix+".steps", len(cn.Steps) == 0) {
		cn.Steps = append([]float64(nil), DefaultCanarySteps...)
	}
	if unset(prefix+".step_duration", cn.StepDuration == 0) {
		cn.StepDuration = Duration(30 * time.Second)
	}
	if unset(prefix+".max_step_duration", cn.MaxStepDuration == 0) {
		cn.MaxStepDuration = Duration(10 * time.Minute)
	}
	if unset(prefix+".on_insufficient_data", cn.OnInsufficientData == "") {
		cn.OnInsufficientData = "pause"
	}
	if unset(prefix+".confidence", cn.Confidence == 0) {
		cn.Confidence = 0.99
	}
	if unset(prefix+".min_requests", cn.MinRequests == 0) {
		cn.MinRequests = 100
	}
	if unset(prefix+".max_error_rate_increase", cn.MaxErrorRateIncrease == 0) {
		cn.MaxErrorRateIncrease = 1.0
	}
	if unset(prefix+".max_latency_increase", cn.MaxLatencyIncrease == 0) {
		cn.MaxLatencyIncrease = 20
	}
	if unset(prefix+".min_latency_increase", cn.MinLatencyIncrease == 0) {
		cn.MinLatencyIncrease = Duration(5 * time.Millisecond)
	}
}

func (r *Rolling) applyDefaults(unset unsetFunc, prefix string) {
	if unset(prefix+".max_surge", r.MaxSurge == 0 && r.MaxUnavailable == 0) {
		r.MaxSurge = 1
	}
}
