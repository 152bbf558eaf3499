package deploy

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/store"
)

// newRollController returns a started controller of one rolling service.
func newRollController(t *testing.T, agent Agent, replicas, surge, unavail, ports int) *Controller {
	t.Helper()
	yml := fmt.Sprintf(`state_dir: %s
services:
  shop:
    runtime: process
    process:
      command: /bin/true
    strategy: rolling
    replicas: %d
    rolling:
      max_surge: %d
      max_unavailable: %d
    ports: [%s]
    standby: 1m
`, t.TempDir(), replicas, surge, unavail, strings.Join(testPorts(t, ports), ", "))
	cfg, err := config.Parse([]byte(yml), "cutover.yaml")
	if err != nil {
		t.Fatalf("config: %v\n%s", err, yml)
	}
	st, err := store.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{Config: cfg, Store: st, Agent: agent, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// deployAndWait deploys version and returns the final event.
func deployAndWait(t *testing.T, c *Controller, version string) Event {
	t.Helper()
	id, err := c.Deploy(context.Background(), DeployRequest{Service: "shop", Version: version})
	if err != nil {
		t.Fatalf("deploy %s: %v", version, err)
	}
	return waitDone(t, c, id)
}

// TestRollingBounds replaces every replica for many replicas, max_surge,
// max_unavailable and port pool sizes: every routing table published keeps
// at least replicas − max_unavailable and at most replicas + max_surge
// targets, and the old instances end warm when the pool has room for them.
func TestRollingBounds(t *testing.T) {
	for _, tc := range []struct{ n, surge, unavail int }{
		{1, 1, 0}, {3, 1, 0}, {4, 1, 1}, {4, 0, 1}, {4, 2, 0}, {5, 2, 2}, {5, 0, 3}, {4, 4, 0},
	} {
		for _, ports := range []int{tc.n + tc.surge, 2*tc.n + tc.surge} {
			name := fmt.Sprintf("n%d_surge%d_unavail%d_ports%d", tc.n, tc.surge, tc.unavail, ports)
			t.Run(name, func(t *testing.T) {
				agent := newFakeAgent(tc.n, func(string, int) bool { return true })
				c := newRollController(t, agent, tc.n, tc.surge, tc.unavail, max(ports, tc.n))
				if ev := deployAndWait(t, c, "v1"); ev.Outcome != store.OutcomeDeployed {
					t.Fatalf("v1: %s: %s", ev.Outcome, ev.Error)
				}
				if ev := deployAndWait(t, c, "v2"); ev.Outcome != store.OutcomeDeployed {
					t.Fatalf("v2: %s: %s", ev.Outcome, ev.Error)
				}
				lo, hi := agent.bounds()
				if lo < tc.n-tc.unavail || hi > tc.n+tc.surge {
					t.Errorf("routed targets ranged %d..%d, want within %d..%d", lo, hi, tc.n-tc.unavail, tc.n+tc.surge)
				}
				st, err := c.Status(context.Background(), "shop")
				if err != nil {
					t.Fatal(err)
				}
				if st.Active == nil || st.Active.Version != "v2" || len(st.Active.Instances) != tc.n || st.Candidate != nil {
					t.Fatalf("after the update: %+v", st)
				}
				warm := 0
				if st.Standby != nil {
					warm = len(st.Standby.Instances)
				}
				// Replaced instances beyond the standby retire in the
				// background: wait for them to stop.
				running := agent.runningOf()
				for end := time.Now().Add(10 * time.Second); running["v1"] > warm && time.Now().Before(end); running = agent.runningOf() {
					time.Sleep(10 * time.Millisecond)
				}
				if running["v2"] != tc.n || running["v1"] != warm {
					t.Errorf("running %v, want %d of v2 and the %d of v1 on standby", running, tc.n, warm)
				}
				if warm != 0 && warm != tc.n {
					t.Errorf("standby of %d instances: a partial standby cannot carry the traffic", warm)
				}
				if ports >= 2*tc.n+tc.surge && warm != tc.n {
					t.Errorf("%d of %d old instances kept warm with %d ports", warm, tc.n, ports)
				}
			})
		}
	}
}

// TestRollingFailureRestoresOld: the new version fails its gate after k
// healthy instances joined: with k > 0 the update is rolled back, with
// k = 0 it failed; either way all replicas run the old version at the end,
// no new instance is left, and capacity never fell below its bound.
func TestRollingFailureRestoresOld(t *testing.T) {
	for _, tc := range []struct{ n, surge, unavail, ports, k int }{
		{4, 1, 0, 9, 0}, {4, 1, 0, 9, 2}, {4, 1, 0, 5, 2}, {4, 1, 1, 5, 1}, {4, 0, 1, 4, 2}, {3, 2, 0, 5, 2},
	} {
		name := fmt.Sprintf("n%d_surge%d_unavail%d_ports%d_k%d", tc.n, tc.surge, tc.unavail, tc.ports, tc.k)
		t.Run(name, func(t *testing.T) {
			agent := newFakeAgent(tc.n, func(v string, nth int) bool { return v != "v2" || nth < tc.k })
			c := newRollController(t, agent, tc.n, tc.surge, tc.unavail, tc.ports)
			if ev := deployAndWait(t, c, "v1"); ev.Outcome != store.OutcomeDeployed {
				t.Fatalf("v1: %s: %s", ev.Outcome, ev.Error)
			}
			ev := deployAndWait(t, c, "v2")
			want := store.OutcomeRolledBack
			if tc.k == 0 {
				want = store.OutcomeFailed
			}
			if tc.k > 0 && tc.unavail > 0 && tc.k < tc.surge+tc.unavail {
				// The first round's batch failed as a whole: nothing served.
				want = store.OutcomeFailed
			}
			if ev.Outcome != want || !strings.Contains(ev.Error, "did not become healthy") {
				t.Errorf("v2 ended %s (%s), want %s for an unhealthy instance", ev.Outcome, ev.Error, want)
			}
			// Warm old instances rejoin at once, beyond max_surge: they run
			// already, so only the lower bound applies.
			if lo, _ := agent.bounds(); lo < tc.n-tc.unavail {
				t.Errorf("routed targets fell to %d, below %d", lo, tc.n-tc.unavail)
			}
			st, err := c.Status(context.Background(), "shop")
			if err != nil {
				t.Fatal(err)
			}
			if st.Active == nil || st.Active.Version != "v1" || len(st.Active.Instances) != tc.n || st.Candidate != nil || st.Standby != nil {
				t.Fatalf("after the failure: %+v", st)
			}
			if running := agent.runningOf(); running["v2"] != 0 || running["v1"] != tc.n {
				t.Errorf("running %v, want only %d of v1", running, tc.n)
			}
		})
	}
}

// TestRollingSameVersionRefused: rolling to the live version changes
// nothing and says how to restart it.
func TestRollingSameVersionRefused(t *testing.T) {
	agent := newFakeAgent(2, func(string, int) bool { return true })
	c := newRollController(t, agent, 2, 1, 0, 3)
	if ev := deployAndWait(t, c, "v1"); ev.Outcome != store.OutcomeDeployed {
		t.Fatalf("v1: %s: %s", ev.Outcome, ev.Error)
	}
	ev := deployAndWait(t, c, "v1")
	if ev.Outcome != store.OutcomeFailed || !strings.Contains(ev.Error, "--strategy switch") {
		t.Errorf("rolling to the live version ended %s (%s), want failed naming the fix", ev.Outcome, ev.Error)
	}
	if running := agent.runningOf(); running["v1"] != 2 {
		t.Errorf("running %v, want the 2 instances of v1 untouched", running)
	}
}
