package cli

import (
	"encoding/json"
	"testing"
	"time"

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

// TestStatusRetiringGolden: a release stopping in the background shows
// under the table and among the instances, with its deadline.
func TestStatusRetiringGolden(t *testing.T) {
	since := testNow.Add(-time.Hour)
	svc := deploy.ServiceStatus{
		Name: "web", Strategy: "switch", Runtime: "process",
		Active: &deploy.ReleaseStatus{Version: "v3", Since: since, Instances: []deploy.InstanceStatus{
			instance("web-v3-a1", "127.0.0.1:8082", 4300, true, 1),
		}},
		Retiring: []deploy.RetiringStatus{{
			ReleaseStatus: deploy.ReleaseStatus{Version: "v1", Since: testNow.Add(-2 * time.Second), Instances: []deploy.InstanceStatus{
				instance("web-v1-c3", "127.0.0.1:8080", 4100, false, 0),
			}},
			Reason: "promoted by user", By: testNow.Add(38 * time.Second),
		}},
	}
	h := newHarness(t, svc)
	r := h.run(t, "status", "web")
	if r.code != ExitOK || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	golden(t, "status_retiring", r.stdout)
}
