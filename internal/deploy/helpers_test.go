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

// switchConfig returns the config of one switch service "shop" on the given
// ports, with extra appended to its definition (indented by four spaces).
func switchConfig(t *testing.T, ports []string, extra string) *config.Config {
	t.Helper()
	yml := fmt.Sprintf(`state_dir: %s
services:
  shop:
    runtime: process
    process:
      command: /bin/true
    strategy: switch
    ports: [%s]
    standby: 1m
%s`, t.TempDir(), strings.Join(ports, ", "), extra)
	cfg, err := config.Parse([]byte(yml), "cutover.yaml")
	if err != nil {
		t.Fatalf("config: %v\n%s", err, yml)
	}
	return cfg
}

// openStore opens a local store in a fresh directory and closes it at the
// end of the test.
func openStore(t *testing.T, dir string) store.Store {
	t.Helper()
	st, err := store.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// newController returns a controller over cfg, st and agent, not started,
// closed at the end of the test.
func newController(t *testing.T, cfg *config.Config, st store.Store, agent Agent) *Controller {
	t.Helper()
	c, err := New(Options{Config: cfg, Store: st, Agent: agent, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// newSwitchController returns a started controller of one switch service
// "shop" with n ports, and the store it writes.
func newSwitchController(t *testing.T, agent Agent, n int) (*Controller, store.Store) {
	t.Helper()
	st := openStore(t, t.TempDir())
	c := newController(t, switchConfig(t, testPorts(t, n), ""), st, agent)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c, st
}

// waitDone follows operation id of service shop to its end and returns
// the final event.
func waitDone(t *testing.T, c *Controller, id string) Event {
	t.Helper()
	ch, cancel, err := c.Subscribe("shop", id)
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("event stream of %s closed before the end", id)
			}
			if ev.Type == EventDone {
				return ev
			}
		case <-timeout:
			t.Fatalf("operation %s did not end", id)
		}
	}
}

// rollbackAndWait rolls shop back and returns the final event.
func rollbackAndWait(t *testing.T, c *Controller) Event {
	t.Helper()
	id, err := c.Rollback(context.Background(), RollbackRequest{Service: "shop"})
	if err != nil {
		t.Fatalf("rollback: %v", err)
	}
	return waitDone(t, c, id)
}

// mustDeploy deploys version and fails the test unless it is deployed.
func mustDeploy(t *testing.T, c *Controller, version string) {
	t.Helper()
	if ev := deployAndWait(t, c, version); ev.Outcome != store.OutcomeDeployed {
		t.Fatalf("deploy %s: %s: %s", version, ev.Outcome, ev.Error)
	}
}

// stored returns the recorded state of shop.
func stored(t *testing.T, st store.Store) store.ServiceState {
	t.Helper()
	s, err := st.Get(context.Background(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// settle waits until the sweep Start runs in the background has ended and
// no retirement is recorded any more.
func settle(t *testing.T, c *Controller) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	select {
	case <-c.swept:
	case <-ctx.Done():
		t.Fatal("the startup sweep did not end")
	}
	c.mu.Lock()
	svcs := c.serviceList()
	c.mu.Unlock()
	for _, s := range svcs {
		if err := s.awaitRetired(ctx, retiringIDs(s.state())); err != nil {
			t.Fatalf("retirements of %s did not end: %v (%+v)", s.name, err, s.state().Retiring)
		}
	}
}
