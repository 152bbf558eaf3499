package metrics

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a settable clock safe for concurrent use.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func newTestRegistry(retention time.Duration) (*Registry, *fakeClock) {
	c := newFakeClock()
	return NewRegistry(Options{Retention: retention, Now: c.Now}), c
}

func TestObserveCountsClasses(t *testing.T) {
	r, _ := newTestRegistry(time.Minute)
	s := r.Series("web", "v1")
	for _, st := range []int{101, 200, 204, 301, 404, 500, 503, 0, 999} {
		s.Observe(st, false, time.Millisecond)
	}
	s.Observe(502, true, 2*time.Millisecond)

	got := r.Snapshot("web", "v1", time.Minute)
	want := Stats{Requests: 10, Status1xx: 1, Status2xx: 2, Status3xx: 1, Status4xx: 1, Status5xx: 5, ConnErrors: 1}
	if got.Requests != want.Requests || got.Status1xx != want.Status1xx || got.Status2xx != want.Status2xx ||
		got.Status3xx != want.Status3xx || got.Status4xx != want.Status4xx || got.Status5xx != want.Status5xx ||
		got.ConnErrors != want.ConnErrors {
		t.Fatalf("got %+v", got)
	}
	if got.Latency.Total != 10 || got.Latency.Sum != 11*time.Millisecond {
		t.Fatalf("latency Total=%d Sum=%v", got.Latency.Total, got.Latency.Sum)
	}
	if got.Service != "web" || got.Version != "v1" {
		t.Fatalf("labels %q %q", got.Service, got.Version)
	}
	if er := got.ErrorRate(); er != 0.5 {
		t.Fatalf("ErrorRate = %v", er)
	}
}

func TestErrorRateEmpty(t *testing.T) {
	if er := (Stats{}).ErrorRate(); er != 0 {
		t.Fatalf("ErrorRate = %v", er)
	}
}

func TestSnapshotWindow(t *testing.T) {
	r, c := newTestRegistry(time.Minute)
	s := r.Series("web", "v1")
	// One request per second for 10 seconds, at t=0.5s, 1.5s, ... 9.5s.
	c.Advance(500 * time.Millisecond)
	for range 10 {
		s.Observe(200, false, time.Millisecond)
		c.Advance(time.Second)
	}
	// Now is 10.5s: the current second (10) is empty.
	tests := []struct {
		window time.Duration
		want   int64
	}{
		{time.Second, 0},             // second 10 only
		{2 * time.Second, 1},         // seconds 9..10
		{1500 * time.Millisecond, 1}, // rounded up to 2s
		{5 * time.Second, 4},
		{10 * time.Second, 9},
		{11 * time.Second, 10},
		{time.Hour, 10}, // longer than retention: whole retention
		{0, 10},         // whole retention
	}
	for _, tt := range tests {
		if got := r.Snapshot("web", "v1", tt.window).Requests; got != tt.want {
			t.Errorf("Snapshot(%v).Requests = %d, want %d", tt.window, got, tt.want)
		}
	}
	st := r.Snapshot("web", "v1", 5*time.Second)
	if !st.To.Equal(c.Now()) || !st.From.Equal(c.Now().Add(-5*time.Second)) {
		t.Errorf("From/To = %v/%v", st.From, st.To)
	}
}

func TestSnapshotSince(t *testing.T) {
	r, c := newTestRegistry(time.Minute)
	s := r.Series("web", "v1")
	for range 10 {
		s.Observe(200, false, time.Millisecond)
		c.Advance(time.Second)
	}
	since := c.Now().Add(-3*time.Second - 200*time.Millisecond) // inside second 6
	st := r.SnapshotSince("web", "v1", since)
	if st.Requests != 4 { // seconds 6, 7, 8, 9
		t.Fatalf("SnapshotSince.Requests = %d, want 4", st.Requests)
	}
	if !st.From.Equal(since) {
		t.Fatalf("From = %v", st.From)
	}
	if got := r.SnapshotSince("web", "v1", c.Now().Add(-time.Hour)).Requests; got != 10 {
		t.Fatalf("SnapshotSince(long ago) = %d", got)
	}
	if got := r.SnapshotSince("web", "v1", c.Now().Add(time.Hour)).Requests; got != 0 {
		t.Fatalf("SnapshotSince(future) = %d", got)
	}
}

func TestRetentionExpiresAndReusesSlots(t *testing.T) {
	r, c := newTestRegistry(10 * time.Second)
	s := r.Series("web", "v1")
	s.Observe(500, false, time.Millisecond)
	c.Advance(9 * time.Second)
	if got := r.Snapshot("web", "v1", 0).Requests; got != 1 {
		t.Fatalf("within retention: %d", got)
	}
	c.Advance(time.Second)
	if got := r.Snapshot("web", "v1", 0).Requests; got != 0 {
		t.Fatalf("after retention: %d", got)
	}
	// The slot of second 0 is reused for second 10 and starts from zero.
	s.Observe(200, false, time.Millisecond)
	st := r.Snapshot("web", "v1", 0)
	if st.Requests != 1 || st.Status5xx != 0 || st.Status2xx != 1 || st.Latency.Total != 1 {
		t.Fatalf("reused slot not reset: %+v", st)
	}
	// Jumping far ahead leaves nothing.
	c.Advance(time.Hour)
	if got := r.Snapshot("web", "v1", 0).Requests; got != 0 {
		t.Fatalf("after an hour: %d", got)
	}
}

func TestInFlight(t *testing.T) {
	r, _ := newTestRegistry(0)
	s := r.Series("web", "v1")
	s.AddInFlight(1)
	s.AddInFlight(1)
	s.AddInFlight(-1)
	if got := r.Snapshot("web", "v1", time.Second).InFlight; got != 1 {
		t.Fatalf("InFlight = %d", got)
	}
	if s.InFlight() != 1 {
		t.Fatalf("Series.InFlight = %d", s.InFlight())
	}
}

func TestRegistryDefaultsAndLookup(t *testing.T) {
	r := NewRegistry(Options{})
	if r.Retention() != DefaultRetention {
		t.Fatalf("Retention = %v", r.Retention())
	}
	if r.Series("a", "v1") != r.Series("a", "v1") {
		t.Fatal("Series not memoised")
	}
	r.Series("a", "v2")
	r.Series("b", "v9")
	if got := r.Versions("a"); len(got) != 2 || got[0] != "v1" || got[1] != "v2" {
		t.Fatalf("Versions(a) = %v", got)
	}
	if got := r.Versions("zzz"); len(got) != 0 {
		t.Fatalf("Versions(zzz) = %v", got)
	}
	st := r.Snapshot("nope", "v1", time.Minute)
	if st.Requests != 0 || st.Service != "nope" || st.Version != "v1" {
		t.Fatalf("unknown series: %+v", st)
	}
	r.Remove("a", "v1")
	if got := r.Versions("a"); len(got) != 1 || got[0] != "v2" {
		t.Fatalf("after Remove: %v", got)
	}
	if r2 := NewRegistry(Options{Retention: 1500 * time.Millisecond}); r2.Retention() != 2*time.Second {
		t.Fatalf("Retention rounding: %v", r2.Retention())
	}
}

// TestConcurrentObserveExact observes from many goroutines within one second
// and checks that nothing is lost.
func TestConcurrentObserveExact(t *testing.T) {
	r, _ := newTestRegistry(time.Minute)
	s := r.Series("web", "v1")
	const workers, per = 8, 5000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range per {
				s.Observe(200+100*(i%4), i%10 == 0, time.Duration(w*i)*time.Microsecond)
				s.AddInFlight(1)
				s.AddInFlight(-1)
			}
		})
	}
	wg.Go(func() {
		for range 100 {
			_ = r.Snapshot("web", "v1", time.Minute)
		}
	})
	wg.Wait()
	st := r.Snapshot("web", "v1", time.Minute)
	if st.Requests != workers*per || st.Latency.Total != workers*per || st.ConnErrors != workers*per/10 {
		t.Fatalf("Requests=%d Latency.Total=%d ConnErrors=%d", st.Requests, st.Latency.Total, st.ConnErrors)
	}
	if st.Status2xx != workers*per/4 || st.InFlight != 0 {
		t.Fatalf("2xx=%d inflight=%d", st.Status2xx, st.InFlight)
	}
}

// TestConcurrentRollover moves the clock while goroutines observe, so slots
// are claimed and reset under contention. The cumulative counters must be
// exact; the windowed total may miss only observations that raced a reset.
func TestConcurrentRollover(t *testing.T) {
	r, c := newTestRegistry(5 * time.Second)
	s := r.Series("web", "v1")
	const workers, per = 4, 20000
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var ticker sync.WaitGroup
	ticker.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				c.Advance(50 * time.Millisecond)
				_ = r.Snapshot("web", "v1", 0)
			}
		}
	})
	for range workers {
		wg.Go(func() {
			for range per {
				s.Observe(200, false, time.Millisecond)
			}
		})
	}
	wg.Wait()
	close(stop)
	ticker.Wait()

	classes, _, h := s.cumulative()
	if classes[1] != workers*per || h.Total != workers*per {
		t.Fatalf("cumulative 2xx=%d total=%d, want %d", classes[1], h.Total, workers*per)
	}
	st := r.Snapshot("web", "v1", 0)
	if st.Requests > workers*per {
		t.Fatalf("windowed count %d exceeds observations", st.Requests)
	}
}

func BenchmarkObserveParallel(b *testing.B) {
	r := NewRegistry(Options{})
	s := r.Series("web", "v1")
	s.Observe(200, false, time.Millisecond) // allocate the current slot
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		d := 3 * time.Millisecond
		for pb.Next() {
			s.Observe(200, false, d)
			d += 1013
		}
	})
}

func TestObserveDoesNotAllocate(t *testing.T) {
	r, c := newTestRegistry(3 * time.Second)
	s := r.Series("web", "v1")
	for range 3 { // fill every slot of the ring once
		s.Observe(200, false, time.Millisecond)
		c.Advance(time.Second)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		s.Observe(200, false, time.Millisecond)
		c.Advance(10 * time.Millisecond)
	})
	if allocs != 0 {
		t.Fatalf("Observe allocates %v times per call", allocs)
	}
}

func TestNegativeDurationCountsAsZero(t *testing.T) {
	r, _ := newTestRegistry(time.Minute)
	r.Series("web", "v1").Observe(200, false, -time.Second)
	st := r.Snapshot("web", "v1", 0)
	if st.Latency.Sum != 0 || st.Latency.Counts[0] != 1 {
		t.Fatalf("Sum=%v Counts[0]=%d", st.Latency.Sum, st.Latency.Counts[0])
	}
}

func BenchmarkSnapshotFullRetention(b *testing.B) {
	r, c := newTestRegistry(DefaultRetention)
	s := r.Series("web", "v1")
	for range int(DefaultRetention / time.Second) {
		s.Observe(200, false, 20*time.Millisecond)
		c.Advance(time.Second)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Snapshot("web", "v1", 0)
	}
}
