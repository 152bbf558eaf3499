package deploy

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/store"
)

// TestPromoteWhileTheOpChangesWhatItAccepts: promote and pause are sent
// from other goroutines while the deploy's own goroutine opens its watch
// window; the promote lands once the window accepts it, and the race
// detector sees no unsynchronised read of what the op accepts.
func TestPromoteWhileTheOpChangesWhatItAccepts(t *testing.T) {
	agent := newFakeAgent(1, func(string, int) bool { return true })
	c, st := newSwitchController(t, agent, 3)
	mustDeploy(t, c, "v1")
	id, err := c.Deploy(context.Background(), DeployRequest{Service: "shop", Version: "v2", Watch: "1m"})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	paused := make(chan struct{})
	go func() {
		defer close(paused)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := c.Pause(context.Background(), "shop"); !errors.Is(err, ErrNoOperation) {
				t.Errorf("pause without a canary = %v, want ErrNoOperation", err)
				return
			}
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := c.Promote(context.Background(), "shop")
		if err == nil {
			break
		}
		if !errors.Is(err, ErrBusy) || time.Now().After(deadline) {
			t.Fatalf("promote = %v, want ErrBusy until the watch window opens", err)
		}
	}
	close(stop)
	<-paused
	ev := waitDone(t, c, id)
	if ev.Outcome != store.OutcomeDeployed {
		t.Fatalf("v2 ended %s: %s", ev.Outcome, ev.Error)
	}
	if rec := stored(t, st); rec.Active.Version != "v2" || rec.Standby != nil {
		t.Errorf("after the promote: active %s, standby %+v; want v2 with the standby retired", rec.Active.Version, rec.Standby)
	}
}

// TestUnhealthyActiveDuringWatchRollsBack: a health report from the
// monitor's goroutine reaches the watching deploy, which switches back to
// the standby.
func TestUnhealthyActiveDuringWatchRollsBack(t *testing.T) {
	agent := newFakeAgent(1, func(string, int) bool { return true })
	c, st := newSwitchController(t, agent, 3)
	mustDeploy(t, c, "v1")
	id, err := c.Deploy(context.Background(), DeployRequest{Service: "shop", Version: "v2", Watch: "1m"})
	if err != nil {
		t.Fatal(err)
	}
	ch, cancel, err := c.Subscribe("shop", id)
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	var ev Event
	hammered := make(chan struct{})
	for ev = range ch {
		if ev.Type == EventDone {
			break
		}
		switch ev.Step {
		case "switch":
			// Reports while the op opens its watch window.
			active := stored(t, st).Active.Instances[0].ID
			go func() {
				defer close(hammered)
				for range 1000 {
					c.OnHealth(active, false, "status 500")
				}
			}()
		case "watch":
			// The window is open: this report is handled.
			c.OnHealth(stored(t, st).Active.Instances[0].ID, false, "status 500")
		}
	}
	<-hammered
	if ev.Outcome != store.OutcomeRolledBack {
		t.Fatalf("v2 ended %s (%s), want rolled_back", ev.Outcome, ev.Error)
	}
	if v := agent.routedVersion(); v != "v1" {
		t.Errorf("routed %q after the rollback, want v1", v)
	}
}
