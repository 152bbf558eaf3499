package deploy

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/cutover-dev/cutover/internal/runtime"
	"github.com/cutover-dev/cutover/internal/store"
)

// TestRecoverPreparedFleetOp: the record a kill -9 leaves right after
// PrepareFleet returned names the prepared instances; on restart they are
// kept (re-gated, not routed) and the operation waits again for the
// fleet's decision, listed by FleetOperations. Committed (CommitFleet, or
// Converge once the deploy is over) it switches to them without starting
// the version again; aborted, or superseded by another version, it removes
// them; when they did not survive the restart, recovery removes the
// operation as before and Converge starts the version anew.
func TestRecoverPreparedFleetOp(t *testing.T) {
	ctx := context.Background()
	cfg := switchConfig(t, testPorts(t, 3), "")
	agent := newFakeAgent(1, func(string, int) bool { return true })
	st0 := openStore(t, t.TempDir())
	c := newController(t, cfg, st0, agent)
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	mustDeploy(t, c, "v1")
	if err := c.PrepareFleet(ctx, FleetRequest{ID: "d-1", DeployRequest: DeployRequest{Service: "shop", Version: "v2"}}); err != nil {
		t.Fatalf("prepare: %v", err)
	}
	rec := stored(t, st0)
	if rec.Op == nil || rec.Op.ID != "d-1" || !rec.Op.Prepared || len(rec.Op.Started) != 1 {
		t.Fatalf("recorded op %+v after the prepare, want d-1 marked prepared with its instance", rec.Op)
	}
	prepared := rec.Op.Started[0]
	v1 := rec.Active.Instances[0]

	for _, tc := range []struct {
		name    string
		alive   bool // the prepared instance survived the restart
		decide  func(c *Controller) error
		routed  string
		started map[string]int // instances started after the restart
		stopped bool           // the prepared instance was stopped
		outcome store.Outcome  // of d-1 in the history
	}{
		{name: "commit", alive: true, decide: func(c *Controller) error {
			if err := c.CommitFleet(ctx, "d-1"); err != nil {
				return err
			}
			return c.SettleFleet(ctx, "d-1")
		}, routed: "v2", started: map[string]int{}, outcome: store.OutcomeDeployed},
		{name: "converge", alive: true, decide: func(c *Controller) error { return c.Converge(ctx, "shop", "v2") },
			routed: "v2", started: map[string]int{}, outcome: store.OutcomeDeployed},
		{name: "abort", alive: true, decide: func(c *Controller) error { return c.AbortFleet(ctx, "d-1") },
			routed: "v1", started: map[string]int{}, stopped: true, outcome: store.OutcomeAborted},
		{name: "converge to another version", alive: true, decide: func(c *Controller) error { return c.Converge(ctx, "shop", "v3") },
			routed: "v3", started: map[string]int{"v3": 1}, stopped: true, outcome: store.OutcomeAborted},
		{name: "instance gone", alive: false, decide: func(c *Controller) error { return c.Converge(ctx, "shop", "v2") },
			routed: "v2", started: map[string]int{"v2": 1}, outcome: store.OutcomeFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			running := []runtime.Instance{v1}
			if tc.alive {
				running = append(running, prepared)
			}
			c, agent, st := recoverFrom(t, cfg, rec, running...)
			ops := c.FleetOperations()
			if tc.alive {
				if len(ops) != 1 || ops[0].ID != "d-1" || ops[0].Service != "shop" || ops[0].Version != "v2" {
					t.Fatalf("fleet operations after the restart %+v, want d-1 of shop v2", ops)
				}
				if agent.stoppedIDs()[prepared.ID] {
					t.Fatal("the prepared instance was stopped on restart")
				}
			} else if len(ops) != 0 {
				t.Fatalf("fleet operations after the restart %+v, want none (the prepared instance is gone)", ops)
			}
			if v := agent.routedVersion(); v != "v1" || c.Applied("shop") != "v1" {
				t.Fatalf("routed %q before the fleet's decision, want v1", v)
			}
			if err := tc.decide(c); err != nil {
				t.Fatalf("decide: %v", err)
			}
			if v := agent.routedVersion(); v != tc.routed || c.Applied("shop") != tc.routed {
				t.Errorf("routed %q (applied %q), want %q", v, c.Applied("shop"), tc.routed)
			}
			agent.mu.Lock()
			started := maps.Clone(agent.started)
			agent.mu.Unlock()
			if !maps.Equal(started, tc.started) {
				t.Errorf("started %v after the restart, want %v", started, tc.started)
			}
			if got := agent.stoppedIDs()[prepared.ID]; got != tc.stopped && tc.alive {
				t.Errorf("prepared instance stopped: %v, want %v", got, tc.stopped)
			}
			if tc.routed == "v2" && tc.alive {
				if got := stored(t, st); !slices.ContainsFunc(got.Active.Instances, func(in runtime.Instance) bool { return in.ID == prepared.ID }) {
					t.Errorf("active release %+v does not run the prepared instance %s", got.Active, prepared.ID)
				}
			}
			hist, err := c.History(ctx, "shop", 10)
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(hist, func(r store.HistoryRecord) bool { return r.ID == "d-1" })
			if i < 0 || hist[i].Outcome != tc.outcome {
				t.Errorf("history %+v, want d-1 %s", hist, tc.outcome)
			}
			if len(c.FleetOperations()) != 0 {
				t.Errorf("fleet operations %+v after the decision, want none", c.FleetOperations())
			}
		})
	}
}

// TestRecoverPreparedFleetCanary: a fleet canary's prepared operation
// comes back as a canary after a restart: the fleet's weight is routed to
// the kept instance and its promotion switches to it.
func TestRecoverPreparedFleetCanary(t *testing.T) {
	ctx := context.Background()
	cfg := switchConfig(t, testPorts(t, 3), "")
	agent := newFakeAgent(1, func(string, int) bool { return true })
	st0 := openStore(t, t.TempDir())
	c := newController(t, cfg, st0, agent)
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	mustDeploy(t, c, "v1")
	req := FleetRequest{ID: "d-c", DeployRequest: DeployRequest{Service: "shop", Version: "v2"}, Canary: true}
	if err := c.PrepareFleet(ctx, req); err != nil {
		t.Fatalf("prepare: %v", err)
	}
	rec := stored(t, st0)
	if rec.Op == nil || !rec.Op.Prepared || !rec.Op.Canary {
		t.Fatalf("recorded op %+v, want a prepared canary", rec.Op)
	}
	c2, _, st2 := recoverFrom(t, cfg, rec, rec.Active.Instances[0], rec.Op.Started[0])
	if err := c2.SetFleetCanaryWeight(ctx, "d-c", 20); err != nil {
		t.Fatalf("weight after the restart: %v", err)
	}
	if got := stored(t, st2); got.Candidate == nil || got.Candidate.Version != "v2" || got.Op == nil || got.Op.Weight != 20 {
		t.Fatalf("after the weight: candidate %+v op %+v, want v2 at 20%%", got.Candidate, got.Op)
	}
	if err := c2.CommitFleet(ctx, "d-c"); err != nil {
		t.Fatalf("promote after the restart: %v", err)
	}
	if err := c2.SettleFleet(ctx, "d-c"); err != nil {
		t.Fatal(err)
	}
	if v := c2.Applied("shop"); v != "v2" {
		t.Fatalf("applied %q after the promotion, want v2", v)
	}
}
