package deploy

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cutover-dev/cutover/internal/proxy"
	"github.com/cutover-dev/cutover/internal/store"
)

func targetIDs(set proxy.Set) []string {
	var out []string
	for _, t := range set.Targets {
		out = append(out, t.ID)
	}
	return out
}

func releaseIDs(r *store.Release) []string {
	if r == nil {
		return nil
	}
	var out []string
	for _, in := range r.Instances {
		out = append(out, in.ID)
	}
	return out
}

// TestCommitRouteRecordsBeforePublishing: every routing table the agent
// is asked to publish, through deploys, a rollback and a redeploy, is the
// one the store holds at that moment.
func TestCommitRouteRecordsBeforePublishing(t *testing.T) {
	agent := newFakeAgent(1, func(string, int) bool { return true })
	c, st := newSwitchController(t, agent, 3)
	var mu sync.Mutex
	var seen int
	var bad []string
	agent.onRoute = func(spec proxy.ServiceSpec) {
		rec, err := st.Get(context.Background(), "shop")
		mu.Lock()
		defer mu.Unlock()
		seen++
		switch {
		case err != nil:
			bad = append(bad, "table "+spec.Active.Version+" published with nothing recorded: "+err.Error())
		case rec.Active == nil || rec.Active.Version != spec.Active.Version ||
			!slices.Equal(releaseIDs(rec.Active), targetIDs(spec.Active)):
			bad = append(bad, "table "+spec.Active.Version+" published while the store holds another active release")
		}
	}
	mustDeploy(t, c, "v1")
	mustDeploy(t, c, "v2")
	if ev := rollbackAndWait(t, c); ev.Outcome != store.OutcomeDeployed {
		t.Fatalf("rollback: %s: %s", ev.Outcome, ev.Error)
	}
	mustDeploy(t, c, "v3")
	mu.Lock()
	defer mu.Unlock()
	if seen < 4 {
		t.Fatalf("%d tables published, want at least 4", seen)
	}
	for _, b := range bad {
		t.Error(b)
	}
}

// TestCommitRoutePublishFailureRestoresRecord: when the table of the new
// version cannot be published, the previous state is recorded again, the
// old version keeps serving, the new one is stopped and the deploy fails.
func TestCommitRoutePublishFailureRestoresRecord(t *testing.T) {
	agent := newFakeAgent(1, func(string, int) bool { return true })
	c, st := newSwitchController(t, agent, 3)
	mustDeploy(t, c, "v1")
	before := stored(t, st)
	agent.routeErr = func(spec proxy.ServiceSpec) error {
		if spec.Active.Version == "v2" {
			return errors.New("table rejected")
		}
		return nil
	}
	ev := deployAndWait(t, c, "v2")
	if ev.Outcome != store.OutcomeFailed || !strings.Contains(ev.Error, "table rejected") {
		t.Fatalf("deploy v2 ended %s (%s), want failed naming the publish error", ev.Outcome, ev.Error)
	}
	after := stored(t, st)
	if after.Active == nil || after.Active.Version != "v1" || !slices.Equal(releaseIDs(after.Active), releaseIDs(before.Active)) {
		t.Fatalf("recorded active after the failure = %+v, want v1 as before", after.Active)
	}
	if after.Standby != nil || after.Op != nil {
		t.Errorf("recorded standby %+v, op %+v; want neither", after.Standby, after.Op)
	}
	if after.Generation <= before.Generation+2 {
		t.Errorf("generation %d → %d: the restore was not recorded", before.Generation, after.Generation)
	}
	if v := agent.routedVersion(); v != "v1" {
		t.Errorf("routed %q, want v1", v)
	}
	if running := agent.runningOf(); running["v1"] != 1 || running["v2"] != 0 {
		t.Errorf("running %v, want only v1", running)
	}
}
