package process

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/runtime"
	"github.com/cutover-dev/cutover/internal/testutil"
)

func TestStartServesSampleApp(t *testing.T) {
	r := newRuntime(t, Options{})
	port := testutil.FreePort(t)
	inst := start(t, r, sampleSpec("web", "v7", port, "--version", "{{.Version}}-{{.Service}}"))

	if inst.Addr != "127.0.0.1:"+strconv.Itoa(port) || inst.Runtime != "process" || inst.PIDStart == 0 {
		t.Fatalf("instance = %+v", inst)
	}
	waitServing(t, inst.Addr)
	resp, err := http.Get("http://" + inst.Addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Version string
		Port    int
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if body.Version != "v7-web" || body.Port != port {
		t.Fatalf("app reports version %q port %d, want v7-web (templated arg) and %d (PORT)", body.Version, body.Port, port)
	}

	st, err := readProcStat(inst.PID)
	if err != nil {
		t.Fatal(err)
	}
	if st.pgrp != inst.PID {
		t.Fatalf("instance process group = %d, want its own (%d)", st.pgrp, inst.PID)
	}
	if state, err := r.Inspect(context.Background(), inst); err != nil || !state.Running {
		t.Fatalf("Inspect = %+v, %v; want running", state, err)
	}
	if want := filepath.Join(r.opts.LogDir, "web", "web-v7-1.log"); inst.LogPath != want {
		t.Fatalf("LogPath = %q, want %q", inst.LogPath, want)
	}
	waitLog(t, r, inst, "sample-app v7-web listening on "+inst.Addr)

	if err := r.Stop(context.Background(), inst, 10e9); err != nil {
		t.Fatal(err)
	}
	if tail, _ := r.LogTail(context.Background(), inst, 1); !strings.Contains(tail, "shutting down") {
		t.Fatalf("last log line %q, want the app's graceful shutdown line", tail)
	}
	if _, err := r.Inspect(context.Background(), inst); !isNotFound(err) {
		t.Fatalf("Inspect after Stop: %v, want ErrNotFound", err)
	}
}

func TestStartEnvironmentAndTemplates(t *testing.T) {
	r := newRuntime(t, Options{})
	t.Setenv("SOME_PARENT_VAR", "inherited")
	t.Setenv("CUTOVER_TOKEN", "admin-secret")
	workdir := t.TempDir()
	if err := os.Mkdir(filepath.Join(workdir, "v1"), 0o755); err != nil {
		t.Fatal(err)
	}
	spec := shellSpec("api",
		`echo "port=$PORT version=$CUTOVER_VERSION service=$CUTOVER_SERVICE instance=$CUTOVER_INSTANCE`+
			` greeting=$GREETING parent=$SOME_PARENT_VAR token=$CUTOVER_TOKEN pwd=$(pwd) stdin=$(cat)"; exec sleep 60`,
		map[string]string{"GREETING": "hello {{.Service}} on {{.Port}}"})
	spec.Port = 9321
	spec.Service.Process.Dir = workdir + "/{{.Version}}"
	inst := start(t, r, spec)

	want := "port=9321 version=v1 service=api instance=api-v1-1 greeting=hello api on 9321" +
		" parent=inherited token= pwd=" + workdir + "/v1 stdin="
	waitLog(t, r, inst, "\n")
	if got, _ := r.LogTail(context.Background(), inst, 1); strings.TrimSpace(got) != want {
		t.Fatalf("instance saw\n%s\nwant\n%s", got, want)
	}
}

func TestStartErrorsNameTheField(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*config.Process)
		field string
	}{
		{"command", func(p *config.Process) { p.Command = "{{.Nope}}" }, "services.web.process.command"},
		{"arg", func(p *config.Process) { p.Args = []string{"ok", "{{.Versoin}}"} }, "services.web.process.args[1]"},
		{"dir", func(p *config.Process) { p.Dir = "{{" }, "services.web.process.dir"},
		{"env", func(p *config.Process) { p.Env = map[string]string{"A": "{{.Port"} }, "services.web.process.env.A"},
		{"empty command", func(p *config.Process) { p.Command = " " }, "services.web.process.command is empty"},
		{"env name", func(p *config.Process) { p.Env = map[string]string{"A=B": "x"} }, `"A=B" is not a valid variable name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRuntime(t, Options{})
			spec := shellSpec("web", "exit 0", nil)
			tt.edit(spec.Service.Process)
			_, err := r.Start(context.Background(), spec)
			if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("err = %v, want ErrInvalidSpec naming %s", err, tt.field)
			}
			if entries, _ := os.ReadDir(r.opts.LogDir); len(entries) != 0 {
				t.Fatalf("log dir has %d entries after a failed start", len(entries))
			}
		})
	}
}

func TestStartRejectsBadSpec(t *testing.T) {
	tests := []struct {
		name string
		spec runtime.StartSpec
		want string
	}{
		{"no service", runtime.StartSpec{InstanceID: "x"}, "no service"},
		{"no process", runtime.StartSpec{Service: &config.Service{Name: "web"}, InstanceID: "x"}, "no process section"},
		{"instance id path", func() runtime.StartSpec {
			s := shellSpec("web", "true", nil)
			s.InstanceID = "../x"
			return s
		}(), `instance id "../x"`},
		{"service name path", func() runtime.StartSpec {
			s := shellSpec("web", "true", nil)
			s.Service.Name = "a/b"
			return s
		}(), `service name "a/b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRuntime(t, Options{})
			_, err := r.Start(context.Background(), tt.spec)
			if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrInvalidSpec mentioning %s", err, tt.want)
			}
		})
	}
}

func TestStartNeedsLogDir(t *testing.T) {
	r, err := New(Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, err = r.Start(context.Background(), shellSpec("web", "true", nil))
	if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), "log directory") {
		t.Fatalf("err = %v, want a missing log directory error", err)
	}
	spec := shellSpec("web", "echo from-spec-dir", nil)
	spec.LogDir = t.TempDir()
	inst := start(t, r, spec)
	if !strings.HasPrefix(inst.LogPath, spec.LogDir) {
		t.Fatalf("LogPath %q not under the spec's LogDir %q", inst.LogPath, spec.LogDir)
	}
}

func TestStartMissingProgram(t *testing.T) {
	r := newRuntime(t, Options{})
	spec := shellSpec("web", "", nil)
	spec.Service.Process.Command = "/nonexistent/program"
	_, err := r.Start(context.Background(), spec)
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/program") {
		t.Fatalf("err = %v, want one naming the program", err)
	}
	if _, err := os.Stat(filepath.Join(r.opts.LogDir, "web", "web-v1-1.log")); !os.IsNotExist(err) {
		t.Fatalf("log file left behind: %v", err)
	}
}

func TestStartAfterClose(t *testing.T) {
	r := newRuntime(t, Options{})
	r.Close()
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	select {
	case <-r.done:
	default:
		t.Fatal("log janitor still running after Close")
	}
	if _, err := r.Start(context.Background(), shellSpec("web", "true", nil)); !errors.Is(err, ErrClosed) {
		t.Fatalf("err = %v, want ErrClosed", err)
	}
}

func TestNewValidates(t *testing.T) {
	for _, opts := range []Options{{LogMaxBytes: -1}, {LogCheckInterval: -1}} {
		if _, err := New(opts); err == nil {
			t.Errorf("New(%+v) succeeded", opts)
		}
	}
}

func TestDialHost(t *testing.T) {
	for in, want := range map[string]string{"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1", "10.0.0.5": "10.0.0.5"} {
		if got := dialHost(in); got != want {
			t.Errorf("dialHost(%q) = %q, want %q", in, got, want)
		}
	}
}
