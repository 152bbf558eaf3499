package process

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/runtime"
	"github.com/cutover-dev/cutover/internal/sampleapp"
)

// helperEnv makes the test binary act as a helper instead of running tests:
// "sample-app" runs the sample app; "start-instance" starts one sample app
// instance with a fresh Runtime, prints it as JSON and exits.
const helperEnv = "CUTOVER_PROCESS_TEST_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "sample-app":
		os.Exit(sampleapp.Main(os.Args[1:]))
	case "start-instance":
		os.Exit(startInstanceHelper(os.Args[1], os.Args[2]))
	}
	os.Exit(m.Run())
}

// startInstanceHelper starts a sample app instance on port, logging under
// logDir, prints the Instance as JSON and returns without stopping it.
func startInstanceHelper(logDir, port string) int {
	p, err := strconv.Atoi(port)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	r, err := New(Options{LogDir: logDir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	inst, err := r.Start(context.Background(), sampleSpec("orphan", "v1", p))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	json.NewEncoder(os.Stdout).Encode(inst)
	return 0
}

// self is the test binary, which runs the sample app when told to.
func self() string {
	exe, err := os.Executable()
	if err != nil {
		panic(err)
	}
	return exe
}

// sampleSpec is a spec running the sample app (this test binary) as service svc.
func sampleSpec(svc, version string, port int, args ...string) runtime.StartSpec {
	return runtime.StartSpec{
		Service: &config.Service{
			Name: svc,
			Process: &config.Process{
				Command: self(),
				Args:    args,
				Env:     map[string]string{helperEnv: "sample-app"},
			},
		},
		Version:    version,
		InstanceID: svc + "-" + version + "-1",
		Port:       port,
	}
}

// shellSpec is a spec running script with /bin/sh.
func shellSpec(svc, script string, env map[string]string) runtime.StartSpec {
	return runtime.StartSpec{
		Service: &config.Service{
			Name:    svc,
			Process: &config.Process{Command: "/bin/sh", Args: []string{"-c", script}, Env: env},
		},
		Version:    "v1",
		InstanceID: svc + "-v1-1",
	}
}

// newRuntime returns a Runtime logging under a temporary directory, closed
// at the end of the test.
func newRuntime(t *testing.T, opts Options) *Runtime {
	t.Helper()
	if opts.LogDir == "" {
		opts.LogDir = t.TempDir()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	r, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// start starts spec and stops the instance at the end of the test.
func start(t *testing.T, r *Runtime, spec runtime.StartSpec) runtime.Instance {
	t.Helper()
	inst, err := r.Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Stop(context.Background(), inst, time.Second); err != nil {
			t.Errorf("cleanup stop: %v", err)
		}
	})
	return inst
}

// eventually polls cond until it holds or 10 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitLog waits until the instance's log contains want.
func waitLog(t *testing.T, r *Runtime, inst runtime.Instance, want string) {
	t.Helper()
	eventually(t, fmt.Sprintf("log to contain %q", want), func() bool {
		s, _ := r.LogTail(context.Background(), inst, 1000)
		return strings.Contains(s, want)
	})
}

// waitServing waits until the instance answers /healthz with 200.
func waitServing(t *testing.T, addr string) {
	t.Helper()
	client := &http.Client{Timeout: time.Second}
	eventually(t, addr+" to serve", func() bool {
		resp, err := client.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

// processGone reports whether pid is gone or a zombie.
func processGone(pid int) bool {
	st, err := readProcStat(pid)
	return err != nil || st.state == 'Z'
}

// isNotFound reports whether err wraps runtime.ErrNotFound.
func isNotFound(err error) bool { return errors.Is(err, runtime.ErrNotFound) }
