package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/cutover-dev/cutover/internal/api/apitest"
	"github.com/cutover-dev/cutover/internal/deploy"
)

func TestControlCommands(t *testing.T) {
	tests := []struct {
		args []string
		call apitest.Call
		out  string
	}{
		{[]string{"promote", "api"}, apitest.Call{Method: "Promote", Service: "api"}, "api: promoted\n"},
		{[]string{"abort", "api"}, apitest.Call{Method: "Abort", Service: "api"}, "api: aborted\n"},
		{[]string{"pause", "api"}, apitest.Call{Method: "Pause", Service: "api"}, "api: paused\n"},
		{[]string{"resume", "api"}, apitest.Call{Method: "Resume", Service: "api"}, "api: resumed\n"},
		{[]string{"set-weight", "api", "12.5"}, apitest.Call{Method: "SetWeight", Service: "api", Arg: 12.5},
			"api: canary weight set to 12.5%\n"},
		{[]string{"set-weight", "api", "40%"}, apitest.Call{Method: "SetWeight", Service: "api", Arg: 40.0},
			"api: canary weight set to 40%\n"},
		{[]string{"reload"}, apitest.Call{Method: "Reload", Arg: deploy.ReloadOptions{}}, "config reloaded: nothing changed\n"},
		{[]string{"reload", "--allow-remove"}, apitest.Call{Method: "Reload", Arg: deploy.ReloadOptions{AllowRemove: true}},
			"config reloaded: nothing changed\n"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			h := newHarness(t, fixtureServices()...)
			r := h.run(t, tt.args...)
			if r.code != ExitOK || r.stdout != tt.out || r.stderr != "" {
				t.Fatalf("got %+v", r)
			}
			if calls := h.fake.Calls(); len(calls) != 1 || calls[0] != tt.call {
				t.Fatalf("calls %+v, want [%+v]", calls, tt.call)
			}
			r = h.run(t, append(tt.args, "-o", "json")...)
			var out map[string]any
			if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out["ok"] != true {
				t.Fatalf("json: %q %v", r.stdout, err)
			}
		})
	}
}

func TestControlRefused(t *testing.T) {
	h := newHarness(t, fixtureServices()...)
	h.fake.FailWith("Pause", fmt.Errorf("web: %w", deploy.ErrNoOperation))
	if r := h.run(t, "pause", "web"); r.code != ExitRefused || !strings.Contains(r.stderr, "no operation in progress") {
		t.Fatalf("got %+v", r)
	}
}
