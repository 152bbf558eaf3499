package cli

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/api"
	"github.com/cutover-dev/cutover/internal/api/apitest"
	"github.com/cutover-dev/cutover/internal/deploy"
	"github.com/cutover-dev/cutover/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the current output")

// testNow is the clock of every test run of the command line.
var testNow = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

// harness is an admin API server with a fake backend on a unix socket, and
// a way to run the command line against it.
type harness struct {
	fake *apitest.Fake
	sock string
	env  map[string]string
	srv  *api.Server
}

// stop closes the server early.
func (h *harness) stop() { h.srv.Close() }

// newHarness starts a server for services; it stops with the test.
func newHarness(t *testing.T, services ...deploy.ServiceStatus) *harness {
	t.Helper()
	dir, err := os.MkdirTemp("", "co")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	fake := apitest.NewFake(services...)
	sock := filepath.Join(dir, "admin.sock")
	srv, err := api.NewServer(api.Options{Backend: fake, Logger: slog.New(slog.DiscardHandler), Socket: sock})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return &harness{fake: fake, sock: sock, srv: srv, env: map[string]string{envAdmin: "unix://" + sock}}
}

// result is the outcome of one command line run.
type result struct {
	stdout, stderr string
	code           int
}

// run runs the command line with args and waits for it.
func (h *harness) run(t *testing.T, args ...string) result {
	t.Helper()
	return h.runCtx(t.Context(), args...)
}

func (h *harness) runCtx(ctx context.Context, args ...string) result {
	var out, errOut testutil.SyncBuffer
	code := h.start(ctx, &out, &errOut, args...)
	return result{stdout: out.String(), stderr: errOut.String(), code: code}
}

// start runs the command line with the given outputs.
func (h *harness) start(ctx context.Context, out, errOut *testutil.SyncBuffer, args ...string) int {
	env := map[string]string{}
	if h != nil {
		env = h.env
	}
	a := &app{
		stdout: out,
		stderr: errOut,
		getenv: func(k string) string { return env[k] },
		now:    func() time.Time { return testNow },
		loc:    time.UTC,
	}
	return a.run(ctx, args)
}

// golden compares got with testdata/name.golden, rewriting it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run go test -update to accept):\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}

func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// startTCPServer starts a server for fake on loopback TCP with token and
// returns its address.
func startTCPServer(t *testing.T, fake *apitest.Fake, token string) string {
	t.Helper()
	srv, err := api.NewServer(api.Options{Backend: fake, Logger: slog.New(slog.DiscardHandler), TCP: "127.0.0.1:0", Token: token})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv.TCPAddr()
}
