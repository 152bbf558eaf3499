package deploy

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/store"
)

// TestBeginRefusedAfterClose: once Close ran, a service refuses to begin
// an operation (a deploy, a rollback, a standby retirement), so nothing
// is added to the work Close waited for.
func TestBeginRefusedAfterClose(t *testing.T) {
	agent := newFakeAgent(1, func(string, int) bool { return true })
	c, _ := newSwitchController(t, agent, 3)
	mustDeploy(t, c, "v1")
	mustDeploy(t, c, "v2")
	s, err := c.service("shop")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.begin("deploy", "v3"); !errors.Is(err, ErrBusy) {
		t.Errorf("begin after Close = %v, want ErrBusy", err)
	}
	if _, err := s.startDeploy(DeployRequest{Service: "shop", Version: "v3"}); !errors.Is(err, ErrBusy) {
		t.Errorf("startDeploy after Close = %v, want ErrBusy", err)
	}
	if err := s.startRetireStandby("window ended"); !errors.Is(err, ErrBusy) {
		t.Errorf("startRetireStandby after Close = %v, want ErrBusy", err)
	}
	if _, err := c.Deploy(context.Background(), DeployRequest{Service: "shop", Version: "v3"}); !errors.Is(err, ErrBusy) {
		t.Errorf("Deploy after Close = %v, want ErrBusy", err)
	}
	if running := agent.runningOf(); running["v3"] != 0 {
		t.Errorf("running %v after Close, want no v3", running)
	}
}

// TestBeginRacingClose: operations begun while Close runs either start
// before Close waits (and Close waits for them) or are refused; the race
// detector sees no Add racing with Wait.
func TestBeginRacingClose(t *testing.T) {
	for range 20 {
		agent := newFakeAgent(1, func(string, int) bool { return true })
		c, _ := newSwitchController(t, agent, 3)
		s, err := c.service("shop")
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 4 {
			wg.Go(func() {
				<-start
				_, err := s.startDeploy(DeployRequest{Service: "shop", Version: "v1"})
				if err != nil && !errors.Is(err, ErrBusy) {
					t.Errorf("startDeploy = %v, want success or ErrBusy", err)
				}
			})
		}
		close(start)
		_ = c.Close()
		wg.Wait()
		s.mu.Lock()
		op := s.op
		s.mu.Unlock()
		if op != nil {
			t.Fatalf("op %s still registered after Close returned", op.id)
		}
	}
}

// TestPersistRejectsIllegalTransition: a write that moves the recorded
// operation along a transition the table does not allow fails and leaves
// both the store and the state as they were.
func TestPersistRejectsIllegalTransition(t *testing.T) {
	agent := newFakeAgent(1, func(string, int) bool { return true })
	c, st := newSwitchController(t, agent, 3)
	s, err := c.service("shop")
	if err != nil {
		t.Fatal(err)
	}
	op := &opRun{id: "op-test", kind: store.OpDeploy, version: "v1", start: time.Now()}
	if err := s.recordOp(context.Background(), op, store.PhaseStandby); !errors.Is(err, store.ErrIllegalTransition) {
		t.Fatalf("recording an op in standby = %v, want ErrIllegalTransition", err)
	}
	if err := s.recordOp(context.Background(), op, store.PhaseStarting); err != nil {
		t.Fatal(err)
	}
	before := stored(t, st)
	_, err = s.persist(context.Background(), func(x *store.ServiceState) { x.Op.Phase = store.PhaseRetiring })
	if !errors.Is(err, store.ErrIllegalTransition) || !strings.Contains(err.Error(), "starting") || !strings.Contains(err.Error(), "retiring") {
		t.Fatalf("starting → retiring = %v, want ErrIllegalTransition naming both", err)
	}
	if after := stored(t, st); after.Generation != before.Generation || after.Op.Phase != store.PhaseStarting {
		t.Errorf("stored op %+v (generation %d → %d), want it unchanged", after.Op, before.Generation, after.Generation)
	}
	if s.state().Op.Phase != store.PhaseStarting {
		t.Errorf("state moved to %s", s.state().Op.Phase)
	}
	for _, p := range []store.Phase{store.PhaseGating, store.PhaseStandby, store.PhaseRetiring} {
		if _, err := s.persist(context.Background(), func(x *store.ServiceState) { x.Op.Phase = p }); err != nil {
			t.Fatalf("→ %s: %v", p, err)
		}
	}
	if _, err := s.persist(context.Background(), func(x *store.ServiceState) { x.Op = nil }); err != nil {
		t.Fatalf("ending the op: %v", err)
	}
}

// TestInstancesCarryTheirHost: the instances a controller starts carry the
// host name it was given, or this machine's name by default, in the state
// it records.
func TestInstancesCarryTheirHost(t *testing.T) {
	hostname, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ given, want string }{{"web-3", "web-3"}, {"", hostname}} {
		agent := newFakeAgent(1, func(string, int) bool { return true })
		st := openStore(t, t.TempDir())
		c, err := New(Options{Config: switchConfig(t, testPorts(t, 2), ""), Store: st, Agent: agent, HostName: tc.given,
			Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		if err := c.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		mustDeploy(t, c, "v1")
		got := stored(t, st).Active.Instances
		if len(got) != 1 || got[0].Host != tc.want {
			t.Errorf("HostName %q: recorded instances %+v, want host %q", tc.given, got, tc.want)
		}
	}
}
