package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/cutover-dev/cutover/internal/api"
	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/deploy"
)

var reloadChanges = config.Changes{
	Added: []string{"blog"}, Removed: []string{"legacy"}, Changed: []string{"api"},
	Applied: []string{"listen.http", "listen.tls.cert"}, Restart: []string{"listen.idle_timeout", "admin.socket"},
}

func TestReloadGolden(t *testing.T) {
	h := newHarness(t, fixtureServices()...)
	h.fake.SetReload(reloadChanges)
	r := h.run(t, "reload")
	if r.code != ExitOK || r.stderr != "" {
		t.Fatalf("got %+v", r)
	}
	golden(t, "reload_changes", r.stdout)
	r = h.run(t, "reload", "-o", "json")
	if r.code != ExitOK {
		t.Fatalf("got %+v", r)
	}
	golden(t, "reload_changes_json", r.stdout)
}

func TestReloadRefusesLiveRemoval(t *testing.T) {
	h := newHarness(t, fixtureServices()...)
	h.fake.FailWith("Reload", fmt.Errorf("%w: web still serves traffic; put it back in the config (to rename a service, "+
		"deploy under the new name first), or reload with --allow-remove to retire it", deploy.ErrLiveRemoval))
	r := h.run(t, "reload")
	if r.code != ExitRefused {
		t.Fatalf("exit %d, want %d: %+v", r.code, ExitRefused, r)
	}
	golden(t, "error_reload_live_removal", r.stderr)
}

// TestValidateShowsReloadPlan: with a server running, validate compares the
// file with the server's config and marks live services it would remove.
func TestValidateShowsReloadPlan(t *testing.T) {
	h := newHarness(t, fixtureServices()...)
	dir := t.TempDir()
	running := filepath.Join(dir, "running.yaml")
	next := filepath.Join(dir, "cutover.yaml")
	const base = "listen: {http: \":8000\"}\nstate_dir: /srv/cutover\nservices:\n"
	web := "  web: {process: {command: sh}, ports: [8080, 8081]}\n"
	api := "  api: {process: {command: sh}, ports: [9080, 9081], path_prefix: /api}\n"
	if err := os.WriteFile(running, []byte(base+web+api), 0o600); err != nil {
		t.Fatal(err)
	}
	renamed := strings.Replace(web, "web:", "www:", 1)
	moved := strings.Replace(base, ":8000", ":8001", 1) + "  # renamed\n" + renamed + strings.Replace(api, "/api", "/v2", 1)
	if err := os.WriteFile(next, []byte(strings.Replace(moved, "state_dir: /srv/cutover", "state_dir: /srv/co", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(running)
	if err != nil {
		t.Fatal(err)
	}
	h.fake.SetConfig(cfg)
	r := h.run(t, "validate", "-c", next)
	if r.code != ExitOK || r.stderr != "" {
		t.Fatalf("got %+v", r)
	}
	golden(t, "validate_reload_plan", r.stdout)
	r = h.run(t, "validate", "-c", running)
	if r.code != ExitOK || r.stdout != "ok: 2 services\nreload would change nothing on the running server\n" {
		t.Errorf("unchanged file: %+v", r)
	}
}

func TestServeBadConfigExitsUsage(t *testing.T) {
	var h *harness
	r := h.run(t, "serve", "-c", filepath.Join(t.TempDir(), "missing.yaml"))
	if r.code != ExitUsage || !strings.Contains(r.stderr, "no such file") {
		t.Errorf("missing file: %+v", r)
	}
	empty := writeConfig(t, "")
	r = h.run(t, "serve", "-c", empty)
	if r.code != ExitUsage || !strings.Contains(r.stderr, "services: no services; add one under services:") {
		t.Errorf("empty file: %+v", r)
	}
	tcp := writeConfig(t, "admin: {tcp: \"127.0.0.1:0\"}\nservices:\n  web: {process: {command: sh}, ports: [1, 2]}\n")
	rv, rs := h.run(t, "validate", "-c", tcp), h.run(t, "serve", "-c", tcp)
	if rv.code != ExitUsage || rs.code != ExitUsage || rv.stderr != rs.stderr || !strings.Contains(rv.stderr, "needs a token") {
		t.Errorf("validate and serve disagree on admin.tcp without a token:\nvalidate %+v\nserve %+v", rv, rs)
	}
}

func TestPermissionDeniedHint(t *testing.T) {
	err := fmt.Errorf("%w at unix:///run/cutover/admin.sock: %w", api.ErrUnreachable,
		&os.SyscallError{Syscall: "connect", Err: syscall.EACCES})
	if h := hint(err); !strings.Contains(h, "admin.socket_group") || strings.Contains(h, "running?") {
		t.Errorf("hint for EACCES = %q", h)
	}
	if exitCodeOf(err) != ExitUnreachable || !errors.Is(err, api.ErrUnreachable) {
		t.Errorf("exit code %d", exitCodeOf(err))
	}
	pe := &api.PermissionError{Socket: "/run/cutover/admin.sock", Group: "deploy", Err: syscall.EACCES}
	var out bytes.Buffer
	a := &app{stderr: &out}
	if code := a.report(nil, &ranError{err: pe}); code != ExitUnreachable {
		t.Errorf("exit code %d", code)
	}
	want := "error: permission denied on /run/cutover/admin.sock: add your user to group deploy or run as root\n" +
		"hint: 'id -nG' lists your groups; after 'sudo usermod -aG deploy $USER', log in again\n"
	if out.String() != want {
		t.Errorf("report:\n%s\nwant:\n%s", out.String(), want)
	}
}
