package fleet

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/store"
)

func (f *testFleet) start(from *member, req DeployRequest) string {
	f.t.Helper()
	req.Service = "web"
	if req.PrepareTimeout == 0 {
		req.PrepareTimeout = 20 * time.Second
	}
	id, err := from.agent.Deploy(context.Background(), req)
	if err != nil {
		f.t.Fatalf("deploy %s: %v", req.Version, err)
	}
	return id
}

// callsOf returns every host's calls that start with prefix, in time order.
func (f *testFleet) callsOf(prefix string) []string {
	type hc struct {
		host string
		call
	}
	var all []hc
	for _, m := range f.members {
		for _, c := range m.host.calls() {
			if strings.HasPrefix(c.what, prefix) {
				all = append(all, hc{m.name, c})
			}
		}
	}
	slices.SortStableFunc(all, func(a, b hc) int { return a.at.Compare(b.at) })
	out := make([]string, len(all))
	for i, c := range all {
		out[i] = c.host + ": " + c.what
	}
	return out
}

func (f *testFleet) canaryConfig(steps ...float64) {
	for _, m := range f.members {
		m.host.mu.Lock()
		m.host.canaryCfg.Steps = steps
		m.host.mu.Unlock()
	}
}

// TestCanaryAcrossHostsPromoted: every host runs the canary at the same
// weight, step by step, judged on the sum of their numbers; it is
// promoted on every host with one commit.
func TestCanaryAcrossHostsPromoted(t *testing.T) {
	f := newTestFleet(t, 3)
	f.deploy(f.members[0], "v1")
	f.canaryConfig(10, 50)
	id := f.start(f.members[1], DeployRequest{Version: "v2", Strategy: config.StrategyCanary})
	ev := f.wait(f.members[1], id)
	if ev.Outcome != store.OutcomeDeployed {
		t.Fatalf("canary: %s %s", ev.Outcome, ev.Error)
	}
	f.assertAll("v2")
	for _, m := range f.members {
		var weights []string
		for _, c := range m.host.calls() {
			if strings.HasPrefix(c.what, "weight "+id) {
				weights = append(weights, strings.TrimPrefix(c.what, "weight "+id+" "))
			}
		}
		if !slices.Equal(weights, []string{"10", "50"}) {
			t.Fatalf("%s routed weights %v, want [10 50]", m.name, weights)
		}
	}
	// Each step was judged on every host's numbers: the coordinator's
	// analysis events name all three hosts.
	coord := f.members[1].host
	coord.mu.Lock()
	defer coord.mu.Unlock()
	sawSum := false
	for _, e := range coord.events {
		if e.OpID == id && e.Step == "analysis" && strings.Contains(e.Message, "passed on 3 host(s)") {
			sawSum = true
		}
	}
	if !sawSum {
		t.Fatal("no step passed on the sum of 3 hosts")
	}
}

// TestCanaryAcrossHostsRolledBack: the canary fails more requests than
// the live version on one host; the sum fails the analysis and every host
// takes the canary out and keeps the live version.
func TestCanaryAcrossHostsRolledBack(t *testing.T) {
	f := newTestFleet(t, 3)
	f.deploy(f.members[0], "v1")
	f.canaryConfig(50)
	bad := f.members[2].host
	bad.mu.Lock()
	bad.canaryErr = 0.5
	bad.mu.Unlock()
	id := f.start(f.members[0], DeployRequest{Version: "v2", Strategy: config.StrategyCanary})
	ev := f.wait(f.members[0], id)
	if ev.Outcome != store.OutcomeRolledBack || !strings.Contains(ev.Error, "canary analysis failed") {
		t.Fatalf("outcome %s %q, want rolled back by the analysis", ev.Outcome, ev.Error)
	}
	f.assertAll("v1")
	if c := f.callsOf("commit " + id); len(c) != 0 {
		t.Fatalf("a failed canary was promoted: %v", c)
	}
	if c := f.callsOf("abort " + id); len(c) != 3 {
		t.Fatalf("the canary was removed on %d host(s), want 3: %v", len(c), c)
	}
	for _, m := range f.members {
		f.waitReady(m)
	}
}

// TestCanaryAcrossHostsControl: pause, set-weight and promote sent to
// hosts other than the coordinator act on every host.
func TestCanaryAcrossHostsControl(t *testing.T) {
	f := newTestFleet(t, 3)
	f.deploy(f.members[0], "v1")
	f.canaryConfig(10, 50)
	for _, m := range f.members {
		m.host.mu.Lock()
		m.host.canaryCfg.StepDuration = config.Duration(time.Hour) // only a user moves it on
		m.host.mu.Unlock()
	}
	id := f.start(f.members[0], DeployRequest{Version: "v2", Strategy: config.StrategyCanary})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	allAt := func(w float64) {
		t.Helper()
		for _, m := range f.members {
			if err := m.host.waitFor(ctx, func(h *fakeHost) bool { return h.weights[id] == w }); err != nil {
				t.Fatalf("%s never routed %g%% to the canary", m.name, w)
			}
		}
	}
	allAt(10)
	// Controls can fail with ErrBusy until the canary is running everywhere.
	if err := f.members[1].agent.Pause(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	if err := f.members[2].agent.SetWeight(ctx, "web", 30); err != nil {
		t.Fatal(err)
	}
	allAt(30)
	if err := f.members[2].agent.Promote(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	ev := f.wait(f.members[0], id)
	if ev.Outcome != store.OutcomeDeployed {
		t.Fatalf("promoted canary: %s %s", ev.Outcome, ev.Error)
	}
	f.assertAll("v2")
	if err := f.members[1].agent.Pause(ctx, "web"); err == nil {
		t.Fatal("pause with no canary running succeeded")
	}
}

// TestRollingByBatch: 5 hosts two at a time; a batch switches only after
// its hosts prepared, and the next batch prepares only after it switched.
func TestRollingByBatch(t *testing.T) {
	f := newTestFleet(t, 5)
	f.deploy(f.members[0], "v1")
	id := f.start(f.members[4], DeployRequest{Version: "v2", Strategy: config.StrategyRolling, Batch: 2})
	ev := f.wait(f.members[4], id)
	if ev.Outcome != store.OutcomeDeployed {
		t.Fatalf("rolling: %s %s", ev.Outcome, ev.Error)
	}
	f.assertAll("v2")
	batchOf := map[string]int{"h1": 0, "h2": 0, "h3": 1, "h4": 1, "h5": 2}
	var lastPrepared, firstCommit, lastCommit, firstPrepare [3]time.Time
	for _, m := range f.members {
		b := batchOf[m.name]
		for _, c := range m.host.calls() {
			switch c.what {
			case "prepare " + id + " v2":
				if firstPrepare[b].IsZero() || c.at.Before(firstPrepare[b]) {
					firstPrepare[b] = c.at
				}
			case "prepared " + id + " v2":
				if c.at.After(lastPrepared[b]) {
					lastPrepared[b] = c.at
				}
			case "commit " + id + " v2":
				if firstCommit[b].IsZero() || c.at.Before(firstCommit[b]) {
					firstCommit[b] = c.at
				}
				if c.at.After(lastCommit[b]) {
					lastCommit[b] = c.at
				}
			}
		}
	}
	for b := range 3 {
		if firstCommit[b].IsZero() || !firstCommit[b].After(lastPrepared[b]) {
			t.Fatalf("batch %d switched before it prepared: %v", b+1, f.callsOf(""))
		}
		if b > 0 && !firstPrepare[b].After(lastCommit[b-1]) {
			t.Fatalf("batch %d prepared before batch %d switched: %v", b+1, b, f.callsOf(""))
		}
	}
	for _, m := range f.members {
		f.waitReady(m)
	}
}

// TestRollingFailureGoesBack: the second batch cannot prepare; the first
// batch, already switched, goes back to the old version; the outcome is
// rolled back.
func TestRollingFailureGoesBack(t *testing.T) {
	f := newTestFleet(t, 4)
	f.deploy(f.members[0], "v1")
	bad := f.members[2].host // h3: the second batch
	bad.mu.Lock()
	bad.failPrepare["v2"] = "health check failed"
	bad.mu.Unlock()
	id := f.start(f.members[0], DeployRequest{Version: "v2", Strategy: config.StrategyRolling, Batch: 2})
	ev := f.wait(f.members[0], id)
	if ev.Outcome != store.OutcomeRolledBack || !strings.Contains(ev.Error, "h3") {
		t.Fatalf("outcome %s %q, want rolled back naming h3", ev.Outcome, ev.Error)
	}
	for _, m := range f.members {
		f.waitReady(m)
	}
	f.assertAll("v1")
	for _, h := range []string{"h1", "h2"} {
		found := false
		for _, c := range f.callsOf("") {
			if c == h+": converge web v1" {
				found = true
			}
		}
		if !found {
			t.Fatalf("%s did not go back to v1: %v", h, f.callsOf(""))
		}
	}
	// h4, in the failed batch, removed what it started; nothing switched there.
	h4 := f.members[3].host
	h4.mu.Lock()
	left := len(h4.prepared)
	h4.mu.Unlock()
	if left != 0 {
		t.Fatal("h4 kept what the failed batch started")
	}
	for _, c := range f.callsOf("commit " + id) {
		if !strings.HasPrefix(c, "h1:") && !strings.HasPrefix(c, "h2:") {
			t.Fatalf("a host outside the first batch switched: %s", c)
		}
	}
	// Every host reads the same fleet history.
	recs, err := f.members[3].agent.History(context.Background(), "web", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].ID != id || recs[0].Outcome != store.OutcomeRolledBack || len(recs[0].Hosts) != 4 ||
		recs[0].Coordinator != "h1" || recs[1].Version != "v1" {
		t.Fatalf("fleet history seen from h4: %+v", recs)
	}
	if _, err := f.members[3].agent.History(context.Background(), "nope", 0); err == nil {
		t.Fatal("history of an unknown service succeeded")
	}
}
