package deploy

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/runtime"
	"github.com/cutover-dev/cutover/internal/store"
)

// holdStops makes agent hold the stop of version until the returned
// release is called (also at the end of the test, before the controller
// closes).
func holdStops(t *testing.T, agent *fakeAgent, version string) (release func()) {
	t.Helper()
	gate := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	agent.stopGate = func(v string) <-chan struct{} {
		if v == version {
			return gate
		}
		return nil
	}
	t.Cleanup(release)
	return release
}

// TestRestoreServesWithoutTheLock: while another store holds the state
// directory, Restore routes the recorded release with its live instances
// only, watches them (the standby's health unknown), writes nothing and
// refuses operations; Start, once the lock is free, records what it found.
func TestRestoreServesWithoutTheLock(t *testing.T) {
	a1, dead, s1 := inst("shop-v1-a1", "v1", 9301), inst("shop-v1-d1", "v1", 9302), inst("shop-v0-s1", "v0", 9303)
	dir := t.TempDir()
	holder, err := store.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	rec := store.ServiceState{Name: "shop", Generation: 1, Active: rel("v1", a1, dead), Standby: rel("v0", s1), StandbyUntil: time.Now().Add(time.Hour)}
	if err := holder.Put(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenLocalUnlocked(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	agent := newFakeAgent(1, func(string, int) bool { return true })
	agent.addRunning(a1)
	agent.addRunning(s1)
	c := newController(t, switchConfig(t, testPorts(t, 3), ""), st, agent)
	if err := c.Restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	agent.mu.Lock()
	routed := agent.last
	healthyA1, watchedA1 := agent.watched[a1.ID]
	healthyS1, watchedS1 := agent.watched[s1.ID]
	_, watchedDead := agent.watched[dead.ID]
	agent.mu.Unlock()
	if routed == nil || routed.Active.Version != "v1" || len(routed.Active.Targets) != 1 || routed.Active.Targets[0].ID != a1.ID {
		t.Fatalf("routed %+v, want v1 with %s only", routed, a1.ID)
	}
	if !watchedA1 || !healthyA1 || !watchedS1 || healthyS1 || watchedDead {
		t.Errorf("watched a1 %v (healthy %v), s1 %v (healthy %v), dead %v; want a1 healthy, s1 unknown, not the dead one",
			watchedA1, healthyA1, watchedS1, healthyS1, watchedDead)
	}
	if _, err := c.Deploy(context.Background(), DeployRequest{Service: "shop", Version: "v2"}); !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "starting") {
		t.Errorf("deploy before Start = %v, want ErrBusy saying cutover is starting", err)
	}
	if got, _ := holder.Get(context.Background(), "shop"); got.Generation != 1 {
		t.Errorf("Restore wrote generation %d", got.Generation)
	}
	if err := holder.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Lock(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	settle(t, c)
	got := stored(t, st)
	if got.Active == nil || len(got.Active.Instances) != 1 || got.Active.Instances[0].ID != a1.ID || versionOf(got.Standby) != "v0" {
		t.Errorf("recorded %+v, want v1 on %s with v0 on standby", got, a1.ID)
	}
}

// TestStartDoesNotWaitForStops: an interrupted deploy whose new instance
// is slow to stop does not hold Start up: the recorded release is routed,
// the instance is recorded as retiring, and it leaves the record once it
// has stopped.
func TestStartDoesNotWaitForStops(t *testing.T) {
	a1, n1 := inst("shop-v1-a1", "v1", 9311), inst("shop-v2-n1", "v2", 9312)
	agent := newFakeAgent(1, func(string, int) bool { return true })
	release := holdStops(t, agent, "v2")
	agent.addRunning(a1)
	agent.addRunning(n1)
	st := openStore(t, t.TempDir())
	rec := store.ServiceState{Name: "shop", Generation: 1, Active: rel("v1", a1),
		Op: &store.Operation{ID: "op-gating", Kind: store.OpDeploy, Version: "v2", From: "v1", Phase: store.PhaseGating,
			Started: []runtime.Instance{n1}, StartedAt: time.Now()}}
	if err := st.Put(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	c := newController(t, switchConfig(t, testPorts(t, 3), ""), st, agent)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if v := agent.routedVersion(); v != "v1" {
		t.Errorf("routed %q, want v1", v)
	}
	got := stored(t, st)
	if got.Op != nil || len(got.Retiring) != 1 || got.Retiring[0].Instances[0].ID != n1.ID {
		t.Fatalf("recorded op %+v, retiring %+v; want no op and %s retiring", got.Op, got.Retiring, n1.ID)
	}
	status, err := c.Status(context.Background(), "shop")
	if err != nil || len(status.Retiring) != 1 || status.Retiring[0].Version != "v2" {
		t.Errorf("status retiring %+v (%v), want v2", status.Retiring, err)
	}
	release()
	settle(t, c)
	if got := stored(t, st); len(got.Retiring) != 0 || !agent.stoppedIDs()[n1.ID] {
		t.Errorf("after the stop: retiring %+v, stopped %v", got.Retiring, agent.stoppedIDs())
	}
}

// TestDeployRightAfterPromote: the promoted-past standby is slow to stop;
// a deploy right after the promote is accepted and goes live, with a free
// port at once (three ports) or once the old version has stopped (two).
func TestDeployRightAfterPromote(t *testing.T) {
	for _, ports := range []int{3, 2} {
		t.Run(map[int]string{3: "free port", 2: "port held by the retiring version"}[ports], func(t *testing.T) {
			agent := newFakeAgent(1, func(string, int) bool { return true })
			c, st := newSwitchController(t, agent, ports)
			mustDeploy(t, c, "v1")
			mustDeploy(t, c, "v2")
			release := holdStops(t, agent, "v1")
			if err := c.Promote(context.Background(), "shop"); err != nil {
				t.Fatal(err)
			}
			id, err := c.Deploy(context.Background(), DeployRequest{Service: "shop", Version: "v3"})
			if err != nil {
				t.Fatalf("deploy right after promote: %v", err)
			}
			if ports == 3 {
				if ev := waitDone(t, c, id); ev.Outcome != store.OutcomeDeployed {
					t.Fatalf("v3 ended %s: %s", ev.Outcome, ev.Error)
				}
				status, _ := c.Status(context.Background(), "shop")
				if len(status.Retiring) != 1 || status.Retiring[0].Version != "v1" {
					t.Errorf("status retiring %+v while v1 stops, want v1", status.Retiring)
				}
				release()
			} else {
				release()
				if ev := waitDone(t, c, id); ev.Outcome != store.OutcomeDeployed {
					t.Fatalf("v3 ended %s: %s", ev.Outcome, ev.Error)
				}
			}
			settle(t, c)
			got := stored(t, st)
			if got.Active.Version != "v3" || versionOf(got.Standby) != "v2" || len(got.Retiring) != 0 {
				t.Errorf("recorded active %s, standby %s, retiring %+v; want v3, v2, nothing", got.Active.Version, versionOf(got.Standby), got.Retiring)
			}
			if n := agent.runningOf()["v1"]; n != 0 {
				t.Errorf("%d v1 instance(s) still running", n)
			}
		})
	}
}

// TestBusySaysWhatAndHowLong: a deploy refused while another one watches
// its new version names what holds the service and when it should end.
func TestBusySaysWhatAndHowLong(t *testing.T) {
	agent := newFakeAgent(1, func(string, int) bool { return true })
	c, _ := newSwitchController(t, agent, 3)
	mustDeploy(t, c, "v1")
	id, err := c.Deploy(context.Background(), DeployRequest{Service: "shop", Version: "v2", Watch: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	ch, cancel, err := c.Subscribe("shop", id)
	if err != nil {
		t.Fatal(err)
	}
	for ev := range ch {
		if ev.Step == "watch" {
			break
		}
	}
	cancel()
	_, busy := c.Deploy(context.Background(), DeployRequest{Service: "shop", Version: "v3"})
	if !errors.Is(busy, ErrBusy) || !strings.Contains(busy.Error(), "watching v2") || !strings.Contains(busy.Error(), "expected to end by") ||
		!strings.Contains(busy.Error(), "--wait") {
		t.Errorf("refusal %v; want ErrBusy naming the watch of v2, its end and --wait", busy)
	}
	if err := c.Abort(context.Background(), "shop"); err != nil {
		t.Fatal(err)
	}
	waitDone(t, c, id)
}

// TestSuspendForHandover: Suspend is refused while an operation runs;
// once suspended, operations are refused and a retirement that ends
// records nothing (the successor sees the instance gone); Unsuspend reads
// what a failed successor wrote, so the next deploy does not conflict.
func TestSuspendForHandover(t *testing.T) {
	agent := newFakeAgent(1, func(string, int) bool { return true })
	dir := t.TempDir()
	st, err := store.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	c := newController(t, switchConfig(t, testPorts(t, 3), ""), st, agent)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	mustDeploy(t, c, "v1")
	id, err := c.Deploy(context.Background(), DeployRequest{Service: "shop", Version: "v2", Watch: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Suspend(); !errors.Is(err, ErrBusy) {
		t.Errorf("Suspend during a deploy = %v, want ErrBusy", err)
	}
	if err := c.Abort(context.Background(), "shop"); err != nil {
		t.Fatal(err)
	}
	waitDone(t, c, id)
	mustDeploy(t, c, "v2")
	release := holdStops(t, agent, "v1")
	if err := c.Promote(context.Background(), "shop"); err != nil {
		t.Fatal(err)
	}
	waitFor := func(what string, cond func() bool) {
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(time.Millisecond) // in-memory state, changed by background work that sends no event
		}
	}
	waitFor("the promote's retire to end", func() bool { return c.Suspend() == nil })
	if _, err := c.Deploy(context.Background(), DeployRequest{Service: "shop", Version: "v3"}); !errors.Is(err, ErrBusy) {
		t.Errorf("deploy while suspended = %v, want ErrBusy", err)
	}
	release()
	waitFor("v1 to stop", func() bool { return agent.stoppedIDs()[stored(t, st).Retiring[0].Instances[0].ID] })
	// Let the retirement reach its write.
	rs, err := c.service("shop")
	if err != nil {
		t.Fatal(err)
	}
	waitFor("the retirement to give up recording", func() bool {
		rs.mu.Lock()
		defer rs.mu.Unlock()
		return len(rs.retiringNow) == 0
	})
	if got := stored(t, st); len(got.Retiring) != 1 {
		t.Fatalf("recorded retiring %+v while suspended; want v1 still recorded", got.Retiring)
	}
	// A successor took the store, settled the retirement and failed.
	if err := st.Unlock(); err != nil {
		t.Fatal(err)
	}
	other, err := store.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := other.Get(context.Background(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	rec.Retiring, rec.Generation = nil, rec.Generation+1
	if err := other.Put(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	_ = other.Close()
	if err := st.Lock(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.Unsuspend(context.Background()); err != nil {
		t.Fatal(err)
	}
	mustDeploy(t, c, "v3")
	if got := stored(t, st); got.Active.Version != "v3" || len(got.Retiring) != 0 {
		t.Errorf("recorded %s, retiring %+v; want v3 and nothing retiring", got.Active.Version, got.Retiring)
	}
}
