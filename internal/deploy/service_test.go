package deploy

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/store"
)

// slowStore is a store whose Put waits, while hold is set, until the test
// releases it; it reports each held Put on entered.
type slowStore struct {
	store.Store
	mu      sync.Mutex
	hold    bool
	entered chan store.ServiceState
	release chan struct{}
	order   []uint64 // generations in the order they were written
}

func (s *slowStore) Put(ctx context.Context, st store.ServiceState) error {
	s.mu.Lock()
	hold := s.hold
	s.mu.Unlock()
	if hold {
		s.entered <- st
		<-s.release
	}
	if err := s.Store.Put(ctx, st); err != nil {
		return err
	}
	s.mu.Lock()
	s.order = append(s.order, st.Generation)
	s.mu.Unlock()
	return nil
}

func (s *slowStore) setHold(h bool) {
	s.mu.Lock()
	s.hold = h
	s.mu.Unlock()
}

// TestStatusDoesNotWaitForTheStore: while a write (and its fsync) is in
// progress, status, state and the routing role of an instance answer at
// once with the last recorded state, and the write lands afterwards.
func TestStatusDoesNotWaitForTheStore(t *testing.T) {
	agent := newFakeAgent(1, func(string, int) bool { return true })
	slow := &slowStore{Store: openStore(t, t.TempDir()), entered: make(chan store.ServiceState), release: make(chan struct{})}
	c := newController(t, switchConfig(t, testPorts(t, 3), ""), slow, agent)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	mustDeploy(t, c, "v1")
	slow.setHold(true)
	id, err := c.Deploy(context.Background(), DeployRequest{Service: "shop", Version: "v2"})
	if err != nil {
		t.Fatal(err)
	}
	held := <-slow.entered // the deploy's first write (its operation) is in the store now
	if held.Op == nil || held.Op.Version != "v2" {
		t.Fatalf("held write %+v, want the v2 operation", held.Op)
	}
	answered := make(chan ServiceStatus)
	go func() {
		st, err := c.Status(context.Background(), "shop")
		if err != nil {
			t.Error(err)
		}
		answered <- st
	}()
	select {
	case st := <-answered:
		if st.Active == nil || st.Active.Version != "v1" || st.Op != nil {
			t.Errorf("status during the write = active %+v, op %+v; want v1 and the operation not yet recorded", st.Active, st.Op)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("status waited for the store write")
	}
	slow.setHold(false)
	close(slow.release)
	if ev := waitDone(t, c, id); ev.Outcome != store.OutcomeDeployed {
		t.Fatalf("v2: %s: %s", ev.Outcome, ev.Error)
	}
	slow.mu.Lock()
	defer slow.mu.Unlock()
	for i := 1; i < len(slow.order); i++ {
		if slow.order[i] != slow.order[i-1]+1 {
			t.Fatalf("generations written in the order %v, want consecutive", slow.order)
		}
	}
}

// TestConcurrentWritesKeepDecisionOrder: writes from many goroutines are
// recorded one generation after another, each on top of the previous one,
// and the state ends with every decision applied.
func TestConcurrentWritesKeepDecisionOrder(t *testing.T) {
	agent := newFakeAgent(1, func(string, int) bool { return true })
	slow := &slowStore{Store: openStore(t, t.TempDir())}
	c := newController(t, switchConfig(t, testPorts(t, 3), ""), slow, agent)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	s, err := c.service("shop")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			if _, err := s.persist(context.Background(), func(st *store.ServiceState) {
				st.Versions = append(st.Versions, "v"+string(rune('a'+i%26)))
			}); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() { _ = s.status() })
	}
	wg.Wait()
	got := s.state()
	if len(got.Versions) != 32 {
		t.Errorf("%d decisions recorded, want 32", len(got.Versions))
	}
	rec, err := slow.Get(context.Background(), "shop")
	if err != nil || rec.Generation != got.Generation || len(rec.Versions) != 32 {
		t.Errorf("stored generation %d with %d versions (%v), want %d with 32", rec.Generation, len(rec.Versions), err, got.Generation)
	}
}
