package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestKill9BeforeSwitch: cutover serve is killed while the new version is
// still starting; the restart undoes the deploy: the new process is
// removed, the old one keeps serving without being restarted.
func TestKill9BeforeSwitch(t *testing.T) {
	e := newEnv(t, "")
	e.start()
	e.mustCLI("deploy", "shop", "v1")
	before := e.instances()
	if len(before) != 1 {
		t.Fatalf("instances after first deploy: %v", before)
	}
	e.flags("v2", "--start-delay 30s")
	e.mustCLI("deploy", "shop", "v2", "--detach")
	waitFor(t, "v2 to start", 10*time.Second, func() bool { return e.versionsRunning()["v2"] == 1 })
	e.kill9()
	if got := e.versionsRunning(); got["v1"] != 1 || got["v2"] != 1 {
		t.Fatalf("app instances must survive kill -9 of cutover: %v", got)
	}
	e.start()
	if v := e.version(); v != "v1" {
		t.Errorf("serving %s after restart, want v1", v)
	}
	waitFor(t, "v2 orphan to be removed", 10*time.Second, func() bool { return e.versionsRunning()["v2"] == 0 })
	after := e.instances()
	if len(after) != 1 || after[0].pid != before[0].pid {
		t.Errorf("v1 was restarted or duplicated: before %v, after %v", before, after)
	}
	var hist []map[string]any
	if err := json.Unmarshal([]byte(e.mustCLI("history", "shop", "-o", "json").stdout), &hist); err != nil {
		t.Fatal(err)
	}
	if len(hist) == 0 || hist[0]["outcome"] != "failed" || !strings.Contains(hist[0]["reason"].(string), "restart") {
		t.Errorf("newest history record %v, want the interrupted deploy as failed", hist)
	}
	// The service is usable again (once the fleet has settled the
	// interrupted deploy: --wait queues behind it).
	e.mustCLI("deploy", "shop", "v3", "--wait", "--timeout", "1m")
	if v := e.version(); v != "v3" {
		t.Errorf("serving %s, want v3", v)
	}
	e.stop()
}

// TestKill9AfterSwitch: killed after the switch, the restart keeps the new
// version live and the old one warm, with no process started or lost.
func TestKill9AfterSwitch(t *testing.T) {
	e := newEnv(t, "")
	e.start()
	e.mustCLI("deploy", "shop", "v1")
	e.mustCLI("deploy", "shop", "v2")
	before := e.versionsRunning()
	if before["v1"] != 1 || before["v2"] != 1 {
		t.Fatalf("want v2 live and v1 warm, got %v", before)
	}
	pids := map[int]bool{}
	for _, p := range e.instances() {
		pids[p.pid] = true
	}
	e.kill9()
	e.start()
	if v := e.version(); v != "v2" {
		t.Errorf("serving %s after restart, want v2", v)
	}
	for _, p := range e.instances() {
		if !pids[p.pid] {
			t.Errorf("restart started a new instance %v; it must re-adopt", p)
		}
	}
	if got := e.versionsRunning(); got["v1"] != 1 || got["v2"] != 1 {
		t.Errorf("instances after restart: %v, want v2 live and v1 warm", got)
	}
	// The warm standby is still usable for an instant rollback.
	e.mustCLI("rollback", "shop")
	if v := e.version(); v != "v1" {
		t.Errorf("serving %s after rollback, want v1", v)
	}
	waitFor(t, "v2 to be retired", 10*time.Second, func() bool { return e.versionsRunning()["v2"] == 0 })
	e.stop()
	// SIGTERM of cutover leaves the app running.
	if got := e.versionsRunning(); got["v1"] != 1 {
		t.Errorf("after SIGTERM of cutover, instances %v; the app must keep running", got)
	}
}
