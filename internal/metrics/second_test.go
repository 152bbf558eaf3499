package metrics

import (
	"testing"
	"time"
)

func TestSecondReadsOneSlot(t *testing.T) {
	r, c := newTestRegistry(time.Minute)
	s := r.Series("web", "v1")
	start := c.Now()
	s.Observe(200, false, time.Millisecond)
	s.Observe(500, false, 3*time.Millisecond)
	c.Advance(time.Second)
	s.Observe(200, false, time.Millisecond)
	c.Advance(1500 * time.Millisecond)

	first := r.Second("web", "v1", start)
	if first.Requests != 2 || first.Status5xx != 1 || !first.From.Equal(start) || !first.To.Equal(start.Add(time.Second)) {
		t.Fatalf("first second: %+v", first)
	}
	if second := r.Second("web", "v1", start.Add(1999*time.Millisecond)); second.Requests != 1 {
		t.Fatalf("second second: %d requests, want 1", second.Requests)
	}
	if got := r.Second("web", "v1", start.Add(2*time.Second)); got.Requests != 0 {
		t.Fatalf("third (current) second: %d requests, want 0", got.Requests)
	}
	if got := r.Second("web", "v1", start.Add(time.Hour)); got.Requests != 0 {
		t.Fatalf("a future second: %d requests", got.Requests)
	}
	if got := r.Second("web", "v9", start); got.Requests != 0 || !got.From.Equal(start) {
		t.Fatalf("unknown series: %+v", got)
	}
	if got := r.SecondStart(start.Add(1700 * time.Millisecond)); !got.Equal(start.Add(time.Second)) {
		t.Fatalf("SecondStart = %v, want %v", got, start.Add(time.Second))
	}
	c.Advance(2 * time.Minute)
	if got := r.Second("web", "v1", start); got.Requests != 0 {
		t.Fatalf("a second older than the retention: %d requests", got.Requests)
	}
}
