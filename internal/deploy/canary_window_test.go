package deploy

import (
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/metrics"
)

// TestCanaryWindowOutlivesRetention: a canary's window is exact however long
// it lasts (a paused canary's keeps growing), where the metrics' sliding
// per-second window stops at their retention.
func TestCanaryWindowOutlivesRetention(t *testing.T) {
	now := time.Unix(2_000_000, 0)
	reg := metrics.NewRegistry(metrics.Options{Retention: 10 * time.Second, Now: func() time.Time { return now }})
	s := &service{c: &Controller{opts: Options{Metrics: reg}}, name: "shop"}
	base, can := reg.Series("shop", "v1"), reg.Series("shop", "v2")
	base.Observe(200, false, time.Millisecond) // before the canary: not in its window
	began := now
	start := s.markCanary("v1", "v2")
	var step canaryMark
	for i := range 60 {
		if i == 30 {
			step = s.markCanary("v1", "v2")
		}
		base.Observe(200, false, time.Millisecond)
		status := 200
		if i%10 == 0 {
			status = 502
		}
		can.Observe(status, false, time.Millisecond)
		now = now.Add(time.Second)
	}
	w := start.since(s, "v1", "v2")
	if w.Baseline.Requests != 60 || w.Canary.Requests != 60 || w.Canary.Status5xx != 6 {
		t.Fatalf("since the canary began: baseline %d, canary %d (%d errors); want 60, 60 (6)", w.Baseline.Requests, w.Canary.Requests, w.Canary.Status5xx)
	}
	if cur := step.since(s, "v1", "v2"); cur.Canary.Requests != 30 || cur.Canary.Status5xx != 3 {
		t.Fatalf("since the step began: %d canary requests (%d errors), want 30 (3)", cur.Canary.Requests, cur.Canary.Status5xx)
	}
	if slid := reg.SnapshotSince("shop", "v2", began); slid.Requests >= 60 {
		t.Fatalf("the sliding window kept %d requests: the test does not show the difference", slid.Requests)
	}
}

func TestStepLabelCountsThePromotion(t *testing.T) {
	// steps: [10, 50, 100] judges 10 and 50; 100 is the promotion.
	steps := CanarySteps([]float64{10, 50, 100})
	if len(steps) != 2 {
		t.Fatalf("CanarySteps = %v", steps)
	}
	for i, want := range []string{"step 1/3", "step 2/3", "step 3/3"} {
		if got := stepLabel(i+1, len(steps)); got != want {
			t.Errorf("step %d: %q, want %q", i+1, got, want)
		}
	}
}
