package docker

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/runtime"
	"github.com/cutover-dev/cutover/internal/runtime/docker/engine"
)

func newTestRuntime(t *testing.T) *Runtime {
	t.Helper()
	r, err := New(Options{InstanceLabel: "owner-1", Host: "unix:///nonexistent.sock"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func startSpec(d *config.Docker) runtime.StartSpec {
	return runtime.StartSpec{
		Service:    &config.Service{Name: "web", Docker: d},
		Version:    "v2",
		InstanceID: "web-v2-abc123",
		Port:       9001,
	}
}

func TestPlanBridge(t *testing.T) {
	envFile := filepath.Join(t.TempDir(), "app.env")
	if err := os.WriteFile(envFile, []byte("FROM_FILE=1\nOVERRIDDEN=file\nPORT=1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := newTestRuntime(t).makePlan(startSpec(&config.Docker{
		Image:      "shop/web:{{.Version}}",
		Env:        map[string]string{"OVERRIDDEN": "map", "LISTEN": ":{{.Port}}"},
		EnvFiles:   []string{envFile},
		Volumes:    []string{"/srv/data:/data:ro"},
		Labels:     map[string]string{"team": "shop"},
		Memory:     "512m",
		CPUs:       1.5,
		StopSignal: "SIGQUIT",
		Command:    []string{"--version={{.Version}}", "--addr=0.0.0.0"},
	}))
	if err != nil {
		t.Fatal(err)
	}
	c := p.config
	if p.name != "cutover-web-v2-abc123" || p.image != "shop/web:v2" || p.pull != pullMissing || p.addr != "127.0.0.1:9001" {
		t.Errorf("plan = %q %q %q %q", p.name, p.image, p.pull, p.addr)
	}
	wantEnv := []string{"CUTOVER_INSTANCE=web-v2-abc123", "CUTOVER_SERVICE=web", "CUTOVER_VERSION=v2",
		"FROM_FILE=1", "LISTEN=:8080", "OVERRIDDEN=map", "PORT=8080"}
	if !slices.Equal(c.Env, wantEnv) {
		t.Errorf("env = %v, want %v", c.Env, wantEnv)
	}
	if !slices.Equal(c.Cmd, []string{"--version=v2", "--addr=0.0.0.0"}) {
		t.Errorf("cmd = %v", c.Cmd)
	}
	wantLabels := map[string]string{"team": "shop", LabelService: "web", LabelVersion: "v2",
		LabelInstance: "web-v2-abc123", LabelOwner: "owner-1", LabelPort: "9001", LabelAddr: "127.0.0.1:9001"}
	if len(c.Labels) != len(wantLabels) {
		t.Errorf("labels = %v", c.Labels)
	}
	for k, v := range wantLabels {
		if c.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, c.Labels[k], v)
		}
	}
	h := c.HostConfig
	if h.NetworkMode != "bridge" || h.Memory != 512<<20 || h.NanoCPUs != 1_500_000_000 || c.StopSignal != "SIGQUIT" ||
		!slices.Equal(h.Binds, []string{"/srv/data:/data:ro"}) || h.RestartPolicy.Name != "no" {
		t.Errorf("host config = %+v", h)
	}
	if _, ok := c.ExposedPorts["8080/tcp"]; !ok {
		t.Errorf("exposed ports = %v", c.ExposedPorts)
	}
	if b := h.PortBindings["8080/tcp"]; len(b) != 1 || b[0] != (engine.PortBinding{HostIP: "127.0.0.1", HostPort: "9001"}) {
		t.Errorf("port bindings = %v", h.PortBindings)
	}
}

func TestPlanHost(t *testing.T) {
	spec := startSpec(&config.Docker{Image: "shop/web:{{.Version}}", Network: "host", ContainerPort: 3000, Pull: "never"})
	p, err := newTestRuntime(t).makePlan(spec)
	if err != nil {
		t.Fatal(err)
	}
	if p.config.HostConfig.NetworkMode != "host" || p.config.HostConfig.PortBindings != nil || p.config.ExposedPorts != nil {
		t.Errorf("host mode config = %+v", p.config)
	}
	if !slices.Contains(p.config.Env, "PORT=9001") || p.pull != pullNever || p.config.Cmd != nil {
		t.Errorf("env %v, pull %q, cmd %v", p.config.Env, p.pull, p.config.Cmd)
	}
}

func TestPlanPublishesOnServiceHost(t *testing.T) {
	spec := startSpec(&config.Docker{Image: "shop/web"})
	spec.Service.Host = "0.0.0.0"
	p, err := newTestRuntime(t).makePlan(spec)
	if err != nil {
		t.Fatal(err)
	}
	if b := p.config.HostConfig.PortBindings["8080/tcp"]; b[0].HostIP != "0.0.0.0" || p.addr != "127.0.0.1:9001" {
		t.Errorf("binding %v, addr %q", b, p.addr)
	}
}

func TestPlanErrors(t *testing.T) {
	tests := map[string]struct {
		docker *config.Docker
		edit   func(*runtime.StartSpec)
		want   string
	}{
		"no docker section":  {edit: func(s *runtime.StartSpec) { s.Service.Docker = nil }, want: "no docker section"},
		"empty image":        {docker: &config.Docker{}, want: "docker.image is empty"},
		"bad template":       {docker: &config.Docker{Image: "x:{{.Nope}}"}, want: "docker.image"},
		"bad pull":           {docker: &config.Docker{Image: "x", Pull: "sometimes"}, want: "docker.pull"},
		"bad memory":         {docker: &config.Docker{Image: "x", Memory: "lots"}, want: "docker.memory"},
		"reserved label":     {docker: &config.Docker{Image: "x", Labels: map[string]string{"cutover.owner": "me"}}, want: "docker.labels"},
		"relative volume":    {docker: &config.Docker{Image: "x", Volumes: []string{"/a:data"}}, want: "docker.volumes[0]"},
		"bad command":        {docker: &config.Docker{Image: "x", Command: []string{"{{.Port"}}, want: "docker.command[0]"},
		"missing env file":   {docker: &config.Docker{Image: "x", EnvFiles: []string{"/nonexistent/app.env"}}, want: "docker.env_files"},
		"port out of range":  {docker: &config.Docker{Image: "x"}, edit: func(s *runtime.StartSpec) { s.Port = 0 }, want: "port 0"},
		"missing version":    {docker: &config.Docker{Image: "x"}, edit: func(s *runtime.StartSpec) { s.Version = "" }, want: "version is empty"},
		"missing instanceid": {docker: &config.Docker{Image: "x"}, edit: func(s *runtime.StartSpec) { s.InstanceID = "" }, want: "instance id"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			spec := startSpec(tt.docker)
			if tt.edit != nil {
				tt.edit(&spec)
			}
			_, err := newTestRuntime(t).makePlan(spec)
			if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want ErrInvalidSpec mentioning %q", err, tt.want)
			}
		})
	}
}

func TestTemplateRepository(t *testing.T) {
	tests := map[string]string{
		"shop/api:{{.Version}}":                "shop/api",
		"{{.Service}}/api:{{.Version}}":        "web/api",
		"localhost:5000/api:{{.Version}}":      "localhost:5000/api",
		"docker.io/library/nginx:{{.Version}}": "nginx",
		"api-{{.Version}}:latest":              "",
		"shop/api":                             "shop/api",
	}
	for tmpl, want := range tests {
		if got := templateRepository(tmpl, "web"); got != want {
			t.Errorf("templateRepository(%q) = %q, want %q", tmpl, got, want)
		}
	}
}

func TestNewRequiresInstanceLabel(t *testing.T) {
	if _, err := New(Options{}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("New without InstanceLabel: %v", err)
	}
	if _, err := New(Options{InstanceLabel: "x", Host: "ftp://nope"}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("New with bad host: %v", err)
	}
	r, err := New(Options{InstanceLabel: "x", Host: "unix:///nonexistent.sock"})
	if err != nil || r.Kind() != "docker" {
		t.Fatalf("New = %v, %v", r, err)
	}
}
