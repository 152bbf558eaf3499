package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cutover-dev/cutover/internal/store"
)

// errNoCommand is what starting a command that does not exist reports.
var errNoCommand = errors.New(`exec: "/nonexistent/app": stat /nonexistent/app: no such file or directory`)

// followAll deploys version and returns every event of the deploy.
func followAll(t *testing.T, c *Controller, id string) []Event {
	t.Helper()
	ch, cancel, err := c.Subscribe("shop", id)
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	var out []Event
	for ev := range ch {
		out = append(out, ev)
		if ev.Type == EventDone {
			return out
		}
	}
	t.Fatalf("event stream of %s closed before the end", id)
	return nil
}

func deployEvents(t *testing.T, c *Controller, version string) []Event {
	t.Helper()
	id, err := c.Deploy(context.Background(), DeployRequest{Service: "shop", Version: version})
	if err != nil {
		t.Fatal(err)
	}
	return followAll(t, c, id)
}

func findEvent(evs []Event, typ EventType, substr string) bool {
	for _, ev := range evs {
		if ev.Type == typ && strings.Contains(ev.Message, substr) {
			return true
		}
	}
	return false
}

// instantRollback rolls back and checks that it switched to the warm
// standby without starting anything.
func instantRollback(t *testing.T, c *Controller, agent *fakeAgent, want string) {
	t.Helper()
	id, err := c.Rollback(context.Background(), RollbackRequest{Service: "shop"})
	if err != nil {
		t.Fatalf("rollback: %v", err)
	}
	evs := followAll(t, c, id)
	done := evs[len(evs)-1]
	if done.Outcome != store.OutcomeDeployed {
		t.Fatalf("rollback: %s: %s", done.Outcome, done.Error)
	}
	for _, ev := range evs {
		if ev.Step == "start" || ev.Step == "gate" {
			t.Errorf("rollback %s: %s; want an instant switch to the standby", ev.Step, ev.Message)
		}
	}
	if !findEvent(evs, EventStep, "traffic switched back to "+want) {
		t.Errorf("rollback events lack the switch back to %s: %+v", want, evs)
	}
	if v := agent.routedVersion(); v != want {
		t.Errorf("routed %q after the rollback, want %s", v, want)
	}
}

// TestFailedDeployRestartsTheStandbyOnTwoPorts: with ports [a, b], v2 live
// and v1 on standby, the standby holds the only free port: a deploy whose
// command does not exist (or whose new version fails its gate) says at
// once that it stops the standby, starts it again when the deploy fails,
// and rollback stays instant.
func TestFailedDeployRestartsTheStandbyOnTwoPorts(t *testing.T) {
	for _, how := range []string{"start fails", "gate fails"} {
		t.Run(how, func(t *testing.T) {
			agent := newFakeAgent(1, func(v string, _ int) bool { return how != "gate fails" || v != "v3" })
			agent.startErr = func(v string) error {
				if how == "start fails" && v == "v3" {
					return errNoCommand
				}
				return nil
			}
			c, st := newSwitchController(t, agent, 2)
			mustDeploy(t, c, "v1")
			mustDeploy(t, c, "v2")
			before := stored(t, st)
			if before.Standby == nil || before.Standby.Version != "v1" {
				t.Fatalf("standby %+v before the deploy, want v1", before.Standby)
			}
			evs := deployEvents(t, c, "v3")
			done := evs[len(evs)-1]
			if done.Outcome != store.OutcomeFailed {
				t.Fatalf("v3 ended %s, want failed", done.Outcome)
			}
			if !findEvent(evs, EventWarn, "the standby of v1 holds the only free port; it is stopped now and restarted if this deploy fails") {
				t.Errorf("no warning that the standby is stopped: %+v", evs)
			}
			if !findEvent(evs, EventInfo, "v1 is warm again") {
				t.Errorf("no report of the standby warm again: %+v", evs)
			}
			after := stored(t, st)
			if after.Active.Version != "v2" || after.Standby == nil || after.Standby.Version != "v1" || len(after.Standby.Instances) != 1 {
				t.Fatalf("after the failure: active %+v, standby %+v; want v2 and v1 warm", after.Active, after.Standby)
			}
			if !after.StandbyUntil.Equal(before.StandbyUntil) {
				t.Errorf("standby window %s, want the one it had (%s)", after.StandbyUntil, before.StandbyUntil)
			}
			if after.Op != nil {
				t.Errorf("recorded op %+v", after.Op)
			}
			if running := agent.runningOf(); running["v1"] != 1 || running["v2"] != 1 || running["v3"] != 0 {
				t.Errorf("running %v, want v1 and v2", running)
			}
			instantRollback(t, c, agent, "v1")
		})
	}
}

// TestFailedDeployKeepsTheStandbyWithAFreePort: with a third port the new
// version starts beside both releases: the standby instance is never
// stopped by a failed deploy, and a deploy that succeeds retires it only
// once the new version is healthy.
func TestFailedDeployKeepsTheStandbyWithAFreePort(t *testing.T) {
	agent := newFakeAgent(1, func(string, int) bool { return true })
	agent.startErr = func(v string) error {
		if v == "v3" {
			return errNoCommand
		}
		return nil
	}
	c, st := newSwitchController(t, agent, 3)
	mustDeploy(t, c, "v1")
	mustDeploy(t, c, "v2")
	sb := stored(t, st).Standby
	evs := deployEvents(t, c, "v3")
	if done := evs[len(evs)-1]; done.Outcome != store.OutcomeFailed || !strings.Contains(done.Error, "no such file") {
		t.Fatalf("v3 ended %s (%s), want failed naming the missing command", done.Outcome, done.Error)
	}
	if findEvent(evs, EventWarn, "standby") {
		t.Errorf("a warning about the standby although a port was free: %+v", evs)
	}
	if got := stored(t, st).Standby; got == nil || fmt.Sprint(releaseIDs(got)) != fmt.Sprint(releaseIDs(sb)) {
		t.Fatalf("standby %+v after the failure, want the same instance %v", got, releaseIDs(sb))
	}
	if agent.stoppedIDs()[sb.Instances[0].ID] {
		t.Errorf("the standby instance was stopped")
	}
	instantRollback(t, c, agent, "v1")

	// A healthy deploy replaces the standby once the new version passed its gate.
	agent.startErr = nil
	mustDeploy(t, c, "v4") // v1 goes to standby
	evs = deployEvents(t, c, "v5")
	if done := evs[len(evs)-1]; done.Outcome != store.OutcomeDeployed {
		t.Fatalf("v5: %s: %s", done.Outcome, done.Error)
	}
	gate, retire := -1, -1
	for i, ev := range evs {
		if ev.Step == "gate" && gate < 0 {
			gate = i
		}
		if ev.Step == "standby" && strings.Contains(ev.Message, "ending the standby of") {
			retire = i
		}
	}
	if gate < 0 || retire < gate {
		t.Errorf("standby retired at event %d, gate at %d; want it retired after the gate", retire, gate)
	}
	if got := stored(t, st); got.Active.Version != "v5" || got.Standby == nil || got.Standby.Version != "v4" {
		t.Errorf("after v5: active %s, standby %+v; want v5 with v4 warm", got.Active.Version, got.Standby)
	}
	if running := agent.runningOf(); running["v1"] != 0 || running["v4"] != 1 || running["v5"] != 1 {
		t.Errorf("running %v, want v5 and v4 only", running)
	}
}
