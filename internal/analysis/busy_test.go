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

// TestSmallTailIsNotFailed: a few slow requests in a small canary sample (a
// fresh process, stalls on a busy machine) do not fail its p99 before 500
// requests per version; a tail regression in a larger sample still does,
// and p50 still fails a shift within the minimum request count.
func TestSmallTailIsNotFailed(t *testing.T) {
	ms := time.Millisecond
	mixed := func(n, slow int, fast, slowD time.Duration) metrics.Stats {
		st := metrics.Stats{Requests: int64(n), Status2xx: int64(n)}
		for i := range n {
			d := fast
			if i < slow {
				d = slowD
			}
			st.Latency.Add(d)
		}
		return st
	}
	base := mixed(1000, 0, 5*ms, 0)
	cold := JudgeStep(Config{}, Step{Index: 1, Of: 2}, Window{Baseline: base, Canary: mixed(100, 6, 5*ms, 125*ms)}, Window{})
	if cold.Verdict == Fail || !strings.Contains(cold.Checks[2].Reason, "not failed before 500") {
		t.Fatalf("6 slow of 100: %s %q (p99: %q), want no failure yet", cold.Verdict, cold.Reason, cold.Checks[2].Reason)
	}
	tail := JudgeStep(Config{}, Step{Index: 1, Of: 2}, Window{Baseline: base, Canary: mixed(600, 30, 5*ms, 125*ms)}, Window{})
	if tail.Verdict != Fail || tail.Checks[2].Verdict != Fail {
		t.Fatalf("30 slow of 600: %s %q, want p99 to fail", tail.Verdict, tail.Reason)
	}
	shifted := JudgeStep(Config{}, Step{Index: 1, Of: 2}, Window{Baseline: base, Canary: mixed(100, 100, 0, 35*ms)}, Window{})
	if shifted.Verdict != Fail || shifted.Checks[1].Verdict != Fail {
		t.Fatalf("+30ms on every request: %s %q, want p50 to fail", shifted.Verdict, shifted.Reason)
	}
}
