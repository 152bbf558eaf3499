package analysis

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/metrics"
)

// stalled is the latency of a busy machine: most requests take about 5ms,
// 2% wait for a CPU for 20ms to 20ms·spread·10, log-uniformly.
func stalled(r *rand.Rand, n int, slower float64) metrics.Stats {
	st := metrics.Stats{Requests: int64(n), Status2xx: int64(n)}
	for range n {
		d := 5 * time.Millisecond
		if r.Float64() < 0.02 {
			d = time.Duration(20e6 * math.Pow(10, r.Float64()*1.3))
		}
		st.Latency.Add(time.Duration(float64(d) * slower))
	}
	return st
}

// TestLatencyOnABusyMachine: two identical versions whose p99 lies in a
// sparse tail of scheduling stalls pass on point estimates, where the
// bounds alone would wait; a canary whose tail is 60% slower does not pass.
func TestLatencyOnABusyMachine(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	cfg := Config{}.WithDefaults()
	base, same := stalled(r, 3000, 1), stalled(r, 3000, 1)
	j := judgement{levels: levelsFor(1-cfg.Confidence, Step{Index: 1, Of: 1}), enough: true, window: WindowCanary}
	tol := latencyTolerance{Relative: cfg.MaxLatencyIncrease / 100, Absolute: float64(cfg.MinLatencyIncrease)}
	bb, sb := newBuckets(bucketUppers(), base.Latency.Counts[:]), newBuckets(bucketUppers(), same.Latency.Counts[:])
	if raw := testQuantile(0.99, tol, bb, sb); raw.PWithin <= j.latPass {
		t.Fatalf("the bounds resolve this tail (p within %.3g): the case does not test the rule", raw.PWithin)
	}
	c := j.latency(CheckLatencyP99, 0.99, tol, bb, sb)
	if c.Verdict != Pass || !strings.Contains(c.Reason, "point estimates") {
		t.Fatalf("identical versions on a busy machine: %s %q, want a pass on point estimates", c.Verdict, c.Reason)
	}
	slow := stalled(r, 3000, 1.6)
	c = j.latency(CheckLatencyP99, 0.99, tol, bb, newBuckets(bucketUppers(), slow.Latency.Counts[:]))
	if c.Verdict == Pass {
		t.Fatalf("a 60%% slower tail passed: %q", c.Reason)
	}
	// Too few observations beyond the quantile: the rule does not apply.
	few, fewSame := stalled(r, 1500, 1), stalled(r, 1500, 1)
	c = j.latency(CheckLatencyP99, 0.99, tol, newBuckets(bucketUppers(), few.Latency.Counts[:]), newBuckets(bucketUppers(), fewSame.Latency.Counts[:]))
	if strings.Contains(c.Reason, "point estimates") {
		t.Fatalf("passed on point estimates with 15 observations beyond p99: %q", c.Reason)
	}
}
