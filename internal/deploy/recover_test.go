package deploy

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/runtime"
	"github.com/cutover-dev/cutover/internal/store"
)

// inst returns an instance of shop as a previous cutover recorded it.
func inst(id, version string, port int) runtime.Instance {
	return runtime.Instance{ID: id, Service: "shop", Version: version, Runtime: config.RuntimeProcess,
		Port: port, Addr: fmt.Sprintf("127.0.0.1:%d", port), StartedAt: time.Now().Add(-time.Minute)}
}

func rel(version string, insts ...runtime.Instance) *store.Release {
	return &store.Release{Version: version, Instances: insts, Since: time.Now().Add(-time.Minute)}
}

// recoverFrom records rec as the state a crashed cutover left, makes the
// agent know running as alive, starts a controller over cfg and returns it
// with its agent.
func recoverFrom(t *testing.T, cfg *config.Config, rec store.ServiceState, running ...runtime.Instance) (*Controller, *fakeAgent, store.Store) {
	t.Helper()
	agent := newFakeAgent(1, func(string, int) bool { return true })
	for _, in := range running {
		agent.addRunning(in)
	}
	st := openStore(t, t.TempDir())
	rec.Name, rec.Generation = "shop", 1
	if err := st.Put(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	c := newController(t, cfg, st, agent)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	settle(t, c)
	return c, agent, st
}

// TestRecoverFromEachPhase: for an operation a crash interrupted in each
// recorded phase, Start stops what the operation started and nothing
// else, routes the release the record says serves, keeps the standby,
// and writes one history record with the outcome the phase implies.
func TestRecoverFromEachPhase(t *testing.T) {
	a1, s1, n1 := inst("shop-v1-a1", "v1", 9101), inst("shop-v0-s1", "v0", 9102), inst("shop-v2-n1", "v2", 9103)
	op := func(kind store.OpKind, version string, phase store.Phase, started ...runtime.Instance) *store.Operation {
		return &store.Operation{ID: "op-" + string(phase), Kind: kind, Version: version, From: "v1", Phase: phase,
			Started: started, StartedAt: time.Now().Add(-time.Minute)}
	}
	for _, tc := range []struct {
		phase   store.Phase
		rec     store.ServiceState
		running []runtime.Instance
		// stopped are the instances recovery must stop; every other one
		// running must keep running.
		stopped         []runtime.Instance
		routed, standby string
		outcome         store.Outcome
		reason          string
	}{
		{phase: store.PhaseStarting,
			rec:     store.ServiceState{Active: rel("v1", a1), Standby: rel("v0", s1), StandbyUntil: time.Now().Add(time.Hour), Op: op(store.OpDeploy, "v2", store.PhaseStarting, n1)},
			running: []runtime.Instance{a1, s1, n1}, stopped: []runtime.Instance{n1},
			routed: "v1", standby: "v0", outcome: store.OutcomeFailed, reason: "during starting; traffic unchanged"},
		{phase: store.PhaseGating,
			rec:     store.ServiceState{Active: rel("v1", a1), Standby: rel("v0", s1), StandbyUntil: time.Now().Add(time.Hour), Op: op(store.OpDeploy, "v2", store.PhaseGating, n1)},
			running: []runtime.Instance{a1, s1, n1}, stopped: []runtime.Instance{n1},
			routed: "v1", standby: "v0", outcome: store.OutcomeFailed, reason: "during gating; traffic unchanged"},
		{phase: store.PhaseSwitching, // a rollback recorded, the switch back not yet
			rec:     store.ServiceState{Active: rel("v1", a1), Standby: rel("v0", s1), StandbyUntil: time.Now().Add(time.Hour), Op: op(store.OpRollback, "v0", store.PhaseSwitching)},
			running: []runtime.Instance{a1, s1},
			routed:  "v1", standby: "v0", outcome: store.OutcomeFailed, reason: "during switching; traffic unchanged"},
		{phase: store.PhaseCanary,
			rec: store.ServiceState{Active: rel("v1", a1), Candidate: rel("v2", n1),
				Op: &store.Operation{ID: "op-canary", Kind: store.OpDeploy, Version: "v2", From: "v1", Phase: store.PhaseCanary, Weight: 10, Step: 1}},
			running: []runtime.Instance{a1, n1}, stopped: []runtime.Instance{n1},
			routed: "v1", outcome: store.OutcomeFailed, reason: "during canary; traffic unchanged"},
		{phase: store.PhaseStandby, // switched: v2 serves, v1 is warm
			rec:     store.ServiceState{Active: rel("v2", n1), Standby: rel("v1", a1), StandbyUntil: time.Now().Add(time.Hour), Op: op(store.OpDeploy, "v2", store.PhaseStandby)},
			running: []runtime.Instance{a1, n1},
			routed:  "v2", standby: "v1", outcome: store.OutcomeDeployed, reason: "the switch had been recorded"},
		{phase: store.PhaseRetiring, // rolled back to v0; v1, no longer recorded, was being stopped
			rec:     store.ServiceState{Active: rel("v0", s1), Op: op(store.OpRollback, "v0", store.PhaseRetiring)},
			running: []runtime.Instance{a1, s1}, stopped: []runtime.Instance{a1},
			routed: "v0", outcome: store.OutcomeDeployed, reason: "the switch had been recorded"},
		{phase: store.PhaseUndoing,
			rec:     store.ServiceState{Active: rel("v1", a1), Standby: rel("v0", s1), StandbyUntil: time.Now().Add(time.Hour), Op: op(store.OpDeploy, "v2", store.PhaseUndoing, n1)},
			running: []runtime.Instance{a1, s1, n1}, stopped: []runtime.Instance{n1},
			routed: "v1", standby: "v0", outcome: store.OutcomeFailed, reason: "during undoing; traffic unchanged"},
	} {
		t.Run(string(tc.phase), func(t *testing.T) {
			c, agent, st := recoverFrom(t, switchConfig(t, testPorts(t, 3), ""), tc.rec, tc.running...)
			stopped := agent.stoppedIDs()
			want := map[string]bool{}
			for _, in := range tc.stopped {
				want[in.ID] = true
				if !stopped[in.ID] {
					t.Errorf("%s was not stopped", in.ID)
				}
			}
			for id := range stopped {
				if !want[id] {
					t.Errorf("%s was stopped; only %v should be", id, tc.stopped)
				}
			}
			if v := agent.routedVersion(); v != tc.routed {
				t.Errorf("routed %q, want %q", v, tc.routed)
			}
			got := stored(t, st)
			if got.Op != nil || got.Candidate != nil {
				t.Errorf("recorded op %+v, candidate %+v after recovery; want neither", got.Op, got.Candidate)
			}
			if got.Active == nil || got.Active.Version != tc.routed {
				t.Errorf("recorded active %+v, want %s", got.Active, tc.routed)
			}
			if v := versionOf(got.Standby); v != tc.standby {
				t.Errorf("recorded standby %q, want %q", v, tc.standby)
			}
			hist, err := c.History(context.Background(), "shop", 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(hist) != 1 || hist[0].ID != tc.rec.Op.ID || hist[0].Outcome != tc.outcome || !strings.Contains(hist[0].Reason, tc.reason) {
				t.Fatalf("history %+v, want one %s record of %s saying %q", hist, tc.outcome, tc.rec.Op.ID, tc.reason)
			}
			if hist[0].Kind != tc.rec.Op.Kind || hist[0].Version != tc.rec.Op.Version {
				t.Errorf("history names %s of %s, want %s of %s", hist[0].Kind, hist[0].Version, tc.rec.Op.Kind, tc.rec.Op.Version)
			}
		})
	}
}

// TestRecoverFromRolling: a rolling update interrupted with one new
// instance routed, one old kept warm and one new just started: the one
// just started is stopped, the history says rolled back, and a restore
// operation brings the old version back to full strength (the warm
// instance rejoins, the new one leaves).
func TestRecoverFromRolling(t *testing.T) {
	a1, a2 := inst("shop-v1-a1", "v1", 9201), inst("shop-v1-a2", "v1", 9202)
	n1, n2 := inst("shop-v2-n1", "v2", 9203), inst("shop-v2-n2", "v2", 9204)
	yml := fmt.Sprintf(`state_dir: %s
services:
  shop:
    runtime: process
    process:
      command: /bin/true
    strategy: rolling
    replicas: 2
    rolling:
      max_surge: 1
      max_unavailable: 0
    ports: [%s]
    standby: 1m
`, t.TempDir(), strings.Join(testPorts(t, 5), ", "))
	cfg, err := config.Parse([]byte(yml), "cutover.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rec := store.ServiceState{Active: rel("v1", a1), Candidate: rel("v2", n1), Standby: rel("v1", a2),
		StandbyUntil: time.Now().Add(time.Hour),
		Op: &store.Operation{ID: "op-rolling", Kind: store.OpDeploy, Version: "v2", From: "v1", Phase: store.PhaseRollingOut,
			Started: []runtime.Instance{n2}, Weight: 50}}
	c, agent, st := recoverFrom(t, cfg, rec, a1, a2, n1, n2)
	deadline := time.Now().Add(20 * time.Second)
	var hist []store.HistoryRecord
	for {
		hist, err = c.History(context.Background(), "shop", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(hist) >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond) // polling the history with a deadline
	}
	if len(hist) != 2 {
		t.Fatalf("history %+v, want the interrupted update and its restore", hist)
	}
	restore, interrupted := hist[0], hist[1]
	if interrupted.ID != "op-rolling" || interrupted.Outcome != store.OutcomeRolledBack || !strings.Contains(interrupted.Reason, "v1 is restored") {
		t.Errorf("interrupted record %+v, want rolled_back saying v1 is restored", interrupted)
	}
	if restore.Kind != store.OpRollback || restore.Version != "v1" || restore.Outcome != store.OutcomeDeployed {
		t.Errorf("restore record %+v, want a deployed rollback to v1", restore)
	}
	stopped := agent.stoppedIDs()
	if !stopped[n1.ID] || !stopped[n2.ID] || stopped[a1.ID] || stopped[a2.ID] {
		t.Errorf("stopped %v, want both v2 instances and no v1 one", stopped)
	}
	got := stored(t, st)
	if got.Active == nil || got.Active.Version != "v1" || len(got.Active.Instances) != 2 || got.Candidate != nil || got.Standby != nil || got.Op != nil {
		t.Errorf("recorded %+v, want v1 with both instances and nothing else", got)
	}
	if v := agent.routedVersion(); v != "v1" {
		t.Errorf("routed %q, want v1", v)
	}
}

func versionOf(r *store.Release) string {
	if r == nil {
		return ""
	}
	return r.Version
}
