package metrics

import (
	"testing"
	"time"
)

// TestTotalsOutliveRetention: the totals of a series keep every request
// however old, and the difference of two totals is the traffic between
// them, where SnapshotSince has already lost what is older than Retention.
func TestTotalsOutliveRetention(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	r := NewRegistry(Options{Retention: 5 * time.Second, Now: func() time.Time { return now }})
	s := r.Series("web", "v2")
	start := r.Totals("web", "v2")
	began := now
	for i := range 20 {
		status := 200
		if i%4 == 0 {
			status = 503
		}
		s.Observe(status, false, 10*time.Millisecond)
		now = now.Add(time.Second)
	}
	mid := r.Totals("web", "v2")
	for range 3 {
		s.Observe(200, false, 30*time.Millisecond)
	}
	all := r.Totals("web", "v2").Sub(start)
	if all.Requests != 23 || all.Status5xx != 5 || all.Status2xx != 18 || all.Latency.Total != 23 {
		t.Fatalf("totals since the start: %+v, want 23 requests, 5 errors", all)
	}
	if got := r.SnapshotSince("web", "v2", began); got.Requests >= all.Requests {
		t.Fatalf("the sliding window kept %d requests of 23: the test does not show the difference", got.Requests)
	}
	late := r.Totals("web", "v2").Sub(mid)
	if late.Requests != 3 || late.Status5xx != 0 || late.Latency.Quantile(0.5) < 25*time.Millisecond {
		t.Fatalf("totals since the middle: %+v, want the 3 slow requests", late)
	}
	// A series recreated after the mark is read from its own start.
	r.Remove("web", "v2")
	r.Series("web", "v2").Observe(200, false, time.Millisecond)
	if again := r.Totals("web", "v2").Sub(mid); again.Requests != 1 {
		t.Fatalf("recreated series: %d requests, want 1", again.Requests)
	}
	if empty := r.Totals("web", "nope"); empty.Requests != 0 {
		t.Fatalf("unknown series: %+v", empty)
	}
}
