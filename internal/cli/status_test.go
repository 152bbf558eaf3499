package cli

import (
	"encoding/json"
	"testing"

	"github.com/cutover-dev/cutover/internal/deploy"
)

func TestStatusGolden(t *testing.T) {
	h := newHarness(t, fixtureServices()...)
	tests := []struct {
		name string
		args []string
	}{
		{"status_all", []string{"status"}},
		{"status_canary", []string{"status", "api"}},
		{"status_standby", []string{"status", "web"}},
		{"status_never_deployed", []string{"status", "legacy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.run(t, tt.args...)
			if r.code != ExitOK || r.stderr != "" {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			golden(t, tt.name, r.stdout)
		})
	}
}

func TestStatusJSON(t *testing.T) {
	h := newHarness(t, fixtureServices()...)
	r := h.run(t, "status", "-o", "json")
	var all []deploy.ServiceStatus
	if err := json.Unmarshal([]byte(r.stdout), &all); err != nil || r.code != ExitOK {
		t.Fatalf("exit %d, %v in %q", r.code, err, r.stdout)
	}
	if len(all) != 4 || all[1].Canary == nil || all[1].Canary.Verdict != "wait" || all[0].Active.Version != "v2" {
		t.Fatalf("decoded %+v", all)
	}
	r = h.run(t, "status", "web", "-o", "json")
	var one deploy.ServiceStatus
	if err := json.Unmarshal([]byte(r.stdout), &one); err != nil || one.Name != "web" || !one.StandbyUntil.Equal(fixtureServices()[0].StandbyUntil) {
		t.Fatalf("one: %+v, %v", one, err)
	}
}

func TestStatusNoServices(t *testing.T) {
	h := newHarness(t)
	if r := h.run(t, "status"); r.stdout != "No services configured.\n" || r.code != ExitOK {
		t.Fatalf("got %+v", r)
	}
}
