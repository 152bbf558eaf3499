// Package storetest is the contract test suite every store.Store backend
// must pass. A backend's test calls Run with a function that opens a fresh,
// empty store, and LoadSkipsCorrupt with a way to damage one entry.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/runtime"
	"github.com/cutover-dev/cutover/internal/store"
)

// Open returns a new, empty store for one test. The suite closes it; a
// backend may also register its own cleanup with t.Cleanup.
type Open func(t *testing.T) store.Store

// Run runs the whole contract suite against stores made by open.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"GetNotFound", testGetNotFound},
		{"RoundTrip", testRoundTrip},
		{"CompareAndSwap", testCompareAndSwap},
		{"Delete", testDelete},
		{"Load", testLoad},
		{"HistoryOrderAndLimit", testHistory},
		{"InvalidNames", testInvalidNames},
		{"CanceledContext", testCanceled},
		{"ConcurrentWriters", testConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { _ = s.Close() })
			tt.fn(t, s)
		})
	}
}

// LoadSkipsCorrupt checks that one damaged entry is reported in Load's bad
// map without hiding the others, that Get reports it as store.ErrCorrupt,
// and that Delete clears it. corrupt must damage the stored state of the
// named service in the backend's own way (for example by writing garbage
// into its file).
func LoadSkipsCorrupt(t *testing.T, s store.Store, corrupt func(name string)) {
	t.Helper()
	ctx := context.Background()
	for _, name := range []string{"a", "b", "c"} {
		mustPut(t, s, State(name, 1))
	}
	corrupt("b")
	states, bad, err := s.Load(ctx)
	if err != nil {
		t.Fatalf("Load with one corrupt entry failed: %v", err)
	}
	if len(states) != 2 || !reflect.DeepEqual(states["a"], State("a", 1)) || !reflect.DeepEqual(states["c"], State("c", 1)) {
		t.Errorf("Load states = %v, want a and c intact", keys(states))
	}
	if len(bad) != 1 || bad["b"] == nil {
		t.Errorf("Load bad = %v, want only b", bad)
	}
	if _, err := s.Get(ctx, "b"); !errors.Is(err, store.ErrCorrupt) {
		t.Errorf("Get(corrupt) = %v, want ErrCorrupt", err)
	}
	if err := s.Put(ctx, State("b", 1)); err == nil {
		t.Error("Put over a corrupt entry succeeded; want an error until it is deleted")
	}
	if err := s.Delete(ctx, "b"); err != nil {
		t.Fatalf("Delete(corrupt) = %v", err)
	}
	mustPut(t, s, State("b", 1))
	if _, bad, _ := s.Load(ctx); len(bad) != 0 {
		t.Errorf("after Delete and Put, Load bad = %v", bad)
	}
}

// Epoch is a fixed instant the suite's values are built from.
var Epoch = time.Date(2026, 3, 4, 5, 6, 7, 890, time.UTC)

// State returns a fully populated service state with the given generation.
func State(name string, gen uint64) store.ServiceState {
	inst := func(version string, port int) runtime.Instance {
		return runtime.Instance{
			ID: fmt.Sprintf("%s-%s-%d", name, version, port), Service: name, Version: version,
			Runtime: "process", Addr: fmt.Sprintf("127.0.0.1:%d", port), Port: port,
			PID: 4242, PIDStart: 99, LogPath: "/var/log/x.log", StartedAt: Epoch,
		}
	}
	return store.ServiceState{
		Name:         name,
		Generation:   gen,
		Active:       &store.Release{Version: "v2", Instances: []runtime.Instance{inst("v2", 8081)}, Since: Epoch},
		Standby:      &store.Release{Version: "v1", Instances: []runtime.Instance{inst("v1", 8080)}, Since: Epoch.Add(-time.Hour)},
		Candidate:    &store.Release{Version: "v3", Instances: []runtime.Instance{inst("v3", 8082)}, Since: Epoch},
		StandbyUntil: Epoch.Add(5 * time.Minute),
		Op: &store.Operation{
			ID: "op-1", Kind: "deploy", Version: "v3", From: "v2", Phase: store.PhaseCanary,
			Started: []runtime.Instance{inst("v3", 8082)}, StartedAt: Epoch, Weight: 25, Step: 1, Paused: true, Prepared: true,
		},
		Versions: []string{"v1", "v0"},
	}
}

// Record returns a history record numbered i for service.
func Record(service string, i int) store.HistoryRecord {
	return store.HistoryRecord{
		ID: fmt.Sprintf("%s-%d", service, i), Service: service, Kind: "deploy",
		Version: fmt.Sprintf("v%d", i), From: fmt.Sprintf("v%d", i-1), Strategy: "switch",
		Start: Epoch.Add(time.Duration(i) * time.Minute), End: Epoch.Add(time.Duration(i)*time.Minute + 3*time.Second),
		Outcome: store.OutcomeDeployed, Reason: "ok",
		Steps: map[string]time.Duration{"start": time.Second, "gate": 2 * time.Second, "switch": time.Millisecond},
	}
}

func mustPut(t *testing.T, s store.Store, st store.ServiceState) {
	t.Helper()
	if err := s.Put(context.Background(), st); err != nil {
		t.Fatalf("Put(%s, gen %d) = %v", st.Name, st.Generation, err)
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func testGetNotFound(t *testing.T, s store.Store) {
	if _, err := s.Get(context.Background(), "nothing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(unknown) = %v, want ErrNotFound", err)
	}
}

func testRoundTrip(t *testing.T, s store.Store) {
	want := State("web", 1)
	mustPut(t, s, want)
	got, err := s.Get(context.Background(), "web")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Get after Put:\n got %+v\nwant %+v", got, want)
	}
	empty := store.ServiceState{Name: "bare", Generation: 1}
	mustPut(t, s, empty)
	if got, _ := s.Get(context.Background(), "bare"); !reflect.DeepEqual(got, empty) {
		t.Errorf("empty state round trip = %+v", got)
	}
}

func testCompareAndSwap(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, gen := range []uint64{0, 2} {
		if err := s.Put(ctx, State("web", gen)); !errors.Is(err, store.ErrConflict) {
			t.Errorf("Put(gen %d) with nothing stored = %v, want ErrConflict", gen, err)
		}
	}
	mustPut(t, s, State("web", 1))
	for _, gen := range []uint64{0, 1, 3, 100} {
		if err := s.Put(ctx, State("web", gen)); !errors.Is(err, store.ErrConflict) {
			t.Errorf("Put(gen %d) over gen 1 = %v, want ErrConflict", gen, err)
		}
	}
	next := State("web", 2)
	next.Op = nil
	mustPut(t, s, next)
	got, err := s.Get(ctx, "web")
	if err != nil || got.Generation != 2 || got.Op != nil {
		t.Errorf("Get after second Put = gen %d op %v, %v; want gen 2, no op", got.Generation, got.Op, err)
	}
}

func testDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	if err := s.Delete(ctx, "web"); err != nil {
		t.Errorf("Delete(absent) = %v, want nil", err)
	}
	mustPut(t, s, State("web", 1))
	mustPut(t, s, State("web", 2))
	if err := s.Delete(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "web"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get after Delete = %v, want ErrNotFound", err)
	}
	mustPut(t, s, State("web", 1))
}

func testLoad(t *testing.T, s store.Store) {
	ctx := context.Background()
	states, bad, err := s.Load(ctx)
	if err != nil || len(states) != 0 || len(bad) != 0 {
		t.Fatalf("Load of an empty store = %v, %v, %v", states, bad, err)
	}
	want := map[string]store.ServiceState{}
	for _, name := range []string{"web", "api", "worker-2", "a_b"} {
		want[name] = State(name, 1)
		mustPut(t, s, want[name])
	}
	mustPut(t, s, State("web", 2))
	want["web"] = State("web", 2)
	if err := s.Delete(ctx, "worker-2"); err != nil {
		t.Fatal(err)
	}
	delete(want, "worker-2")
	states, bad, err = s.Load(ctx)
	if err != nil || len(bad) != 0 {
		t.Fatalf("Load = bad %v, %v", bad, err)
	}
	if !reflect.DeepEqual(states, want) {
		t.Errorf("Load returned %v, want %v", keys(states), keys(want))
	}
}

func testHistory(t *testing.T, s store.Store) {
	ctx := context.Background()
	if recs, err := s.History(ctx, "web", 0); err != nil || len(recs) != 0 {
		t.Fatalf("History with none = %v, %v", recs, err)
	}
	for i := 1; i <= 5; i++ {
		if err := s.AppendHistory(ctx, Record("web", i)); err != nil {
			t.Fatal(err)
		}
		if err := s.AppendHistory(ctx, Record("api", i)); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.History(ctx, "web", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 5 {
		t.Fatalf("History(all) has %d records, want 5", len(all))
	}
	for i, rec := range all {
		if want := Record("web", 5-i); !reflect.DeepEqual(rec, want) {
			t.Errorf("History[%d] = %+v, want %+v (newest first)", i, rec, want)
		}
	}
	two, err := s.History(ctx, "web", 2)
	if err != nil || len(two) != 2 || two[0].ID != "web-5" || two[1].ID != "web-4" {
		t.Errorf("History(limit 2) = %v, %v; want web-5, web-4", ids(two), err)
	}
	if more, _ := s.History(ctx, "web", 50); len(more) != 5 {
		t.Errorf("History(limit 50) has %d records, want 5", len(more))
	}
	if api, _ := s.History(ctx, "api", -1); len(api) != 5 || api[0].Service != "api" {
		t.Errorf("History(api) = %v", ids(api))
	}
}

func ids(recs []store.HistoryRecord) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

func testInvalidNames(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, name := range []string{"", "../escape", "a/b", ".hidden", "sp ace"} {
		if err := s.Put(ctx, store.ServiceState{Name: name, Generation: 1}); !errors.Is(err, store.ErrInvalidName) {
			t.Errorf("Put(%q) = %v, want ErrInvalidName", name, err)
		}
		if _, err := s.Get(ctx, name); !errors.Is(err, store.ErrInvalidName) {
			t.Errorf("Get(%q) = %v, want ErrInvalidName", name, err)
		}
		if err := s.AppendHistory(ctx, store.HistoryRecord{Service: name}); !errors.Is(err, store.ErrInvalidName) {
			t.Errorf("AppendHistory(%q) = %v, want ErrInvalidName", name, err)
		}
	}
}

func testCanceled(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Put(ctx, State("web", 1)); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a canceled context = %v", err)
	}
	if _, err := s.Get(ctx, "web"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a canceled context = %v", err)
	}
	if _, err := s.Get(context.Background(), "web"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a canceled Put stored something: %v", err)
	}
}

// testConcurrent runs writers that each read-modify-write one shared
// service with retries on conflict, plus history appends; no update may be
// lost or duplicated.
func testConcurrent(t *testing.T, s store.Store) {
	const writers, perWriter = 4, 15
	ctx := context.Background()
	mustPut(t, s, store.ServiceState{Name: "shared", Generation: 1})
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := 0; i < perWriter; {
				cur, err := s.Get(ctx, "shared")
				if err != nil {
					errs <- err
					return
				}
				next := cur
				next.Generation++
				next.Versions = append(append([]string(nil), cur.Versions...), fmt.Sprintf("w%d-%d", w, i))
				switch err := s.Put(ctx, next); {
				case errors.Is(err, store.ErrConflict):
					continue
				case err != nil:
					errs <- err
					return
				}
				if err := s.AppendHistory(ctx, Record("shared", w*perWriter+i)); err != nil {
					errs <- err
					return
				}
				i++
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "shared")
	if err != nil {
		t.Fatal(err)
	}
	if got.Generation != 1+writers*perWriter || len(got.Versions) != writers*perWriter {
		t.Errorf("after %d updates: generation %d with %d versions; want %d and %d",
			writers*perWriter, got.Generation, len(got.Versions), 1+writers*perWriter, writers*perWriter)
	}
	seen := map[string]bool{}
	for _, v := range got.Versions {
		if seen[v] {
			t.Errorf("update %s applied twice", v)
		}
		seen[v] = true
	}
	recs, err := s.History(ctx, "shared", 0)
	if err != nil || len(recs) != writers*perWriter {
		t.Errorf("History has %d records, %v; want %d", len(recs), err, writers*perWriter)
	}
}
