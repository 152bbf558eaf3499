package cli

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/deploy"
)

func TestErrorRenderingGolden(t *testing.T) {
	configErrs := config.Errors{
		{File: "/etc/cutover/cutover.yaml", Line: 12, Path: "services.web.ports", Msg: "needs at least 2 ports",
			Fix: "add a second port, e.g. ports: [8080, 8081]"},
		{File: "/etc/cutover/cutover.yaml", Line: 20, Path: "services.web.strategy", Msg: `unknown strategy "blue"`,
			Fix: "use switch, canary or rolling"},
	}
	tests := []struct {
		name   string
		method string
		err    error
		args   []string
		code   int
	}{
		{"error_busy", "Deploy", fmt.Errorf("web: %w: deploy of v2 (op-1) is gating", deploy.ErrBusy),
			[]string{"deploy", "web", "v3"}, ExitRefused},
		{"error_busy_json", "Deploy", fmt.Errorf("web: %w: deploy of v2 (op-1) is gating", deploy.ErrBusy),
			[]string{"deploy", "web", "v3", "-o", "json"}, ExitRefused},
		{"error_nothing_to_roll_back", "Rollback", fmt.Errorf("web: %w", deploy.ErrNothingToRollBack),
			[]string{"rollback", "web"}, ExitRefused},
		{"error_no_operation", "Promote", fmt.Errorf("web: %w", deploy.ErrNoOperation),
			[]string{"promote", "web"}, ExitRefused},
		{"error_invalid_request", "Deploy", fmt.Errorf("%w: strategy %q is not switch, canary or rolling", deploy.ErrInvalid, "blue"),
			[]string{"deploy", "web", "v3", "--strategy", "blue"}, ExitUsage},
		{"error_reload_invalid", "Reload", configErrs, []string{"reload"}, ExitUsage},
		{"error_reload_invalid_json", "Reload", configErrs, []string{"reload", "-o", "json"}, ExitUsage},
		{"error_internal", "StatusAll", fmt.Errorf("read state: disk I/O error"), []string{"status"}, ExitFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, fixtureServices()...)
			h.fake.FailWith(tt.method, tt.err)
			r := h.run(t, tt.args...)
			if r.code != tt.code || r.stdout != "" {
				t.Fatalf("exit %d (want %d), stdout %q", r.code, tt.code, r.stdout)
			}
			golden(t, tt.name, r.stderr)
		})
	}
}

func TestUnknownServiceRefused(t *testing.T) {
	h := newHarness(t, fixtureServices()...)
	r := h.run(t, "status", "nope")
	if r.code != ExitRefused || !strings.Contains(r.stderr, `unknown service: "nope"`) ||
		!strings.Contains(r.stderr, "'cutover status' lists the configured services") {
		t.Fatalf("got %+v", r)
	}
}

func TestUnreachableGolden(t *testing.T) {
	dir := t.TempDir()
	h := &harness{env: map[string]string{envAdmin: "unix://" + filepath.Join(dir, "admin.sock")}}
	for _, tt := range []struct{ name, out string }{{"error_unreachable", "text"}, {"error_unreachable_json", "json"}} {
		r := h.run(t, "status", "-o", tt.out)
		if r.code != ExitUnreachable {
			t.Fatalf("%s: exit %d, want %d", tt.name, r.code, ExitUnreachable)
		}
		got := strings.ReplaceAll(r.stderr, dir, "$DIR")
		golden(t, tt.name, got)
	}
}

func TestUsageErrorsGolden(t *testing.T) {
	var h *harness
	tests := []struct {
		name string
		args []string
	}{
		{"usage_missing_arg", []string{"deploy", "web"}},
		{"usage_extra_arg", []string{"status", "web", "api"}},
		{"usage_unknown_flag", []string{"deploy", "web", "v2", "--strategyy", "canary"}},
		{"usage_unknown_command", []string{"stauts"}},
		{"usage_bad_output", []string{"history", "web", "-o", "yaml"}},
		{"usage_bad_percent", []string{"set-weight", "web", "120"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.run(t, tt.args...)
			if r.code != ExitUsage || r.stdout != "" {
				t.Fatalf("exit %d, stdout %q", r.code, r.stdout)
			}
			golden(t, tt.name, r.stderr)
		})
	}
}

func TestJSONErrorShape(t *testing.T) {
	h := newHarness(t, fixtureServices()...)
	h.fake.FailWith("Deploy", fmt.Errorf("web: %w", deploy.ErrBusy))
	r := h.run(t, "deploy", "web", "v2", "-o", "json")
	var je jsonError
	if err := json.Unmarshal([]byte(r.stderr), &je); err != nil {
		t.Fatalf("%v in %q", err, r.stderr)
	}
	if je.Error.Code != "busy" || je.ExitCode != ExitRefused || !strings.Contains(je.Error.Message, "another operation") {
		t.Fatalf("got %+v", je)
	}
}

func TestTokenRefused(t *testing.T) {
	h := newHarness(t, fixtureServices()...)
	tok := strings.Repeat("k", 32)
	// An api.Server on TCP with a token, reached without one.
	srv := startTCPServer(t, h.fake, tok)
	h.env = map[string]string{envAdmin: "http://" + srv}
	r := h.run(t, "status")
	if r.code != ExitUnreachable || !strings.Contains(r.stderr, "missing bearer token") ||
		!strings.Contains(r.stderr, "--token or CUTOVER_TOKEN") {
		t.Fatalf("without token: %+v", r)
	}
	if r := h.run(t, "status", "--token", tok); r.code != ExitOK {
		t.Fatalf("with --token: %+v", r)
	}
	h.env[envToken] = tok
	if r := h.run(t, "status"); r.code != ExitOK {
		t.Fatalf("with CUTOVER_TOKEN: %+v", r)
	}
}
