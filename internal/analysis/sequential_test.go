package analysis

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/metrics"
)

// counts returns stats of n requests, x of them 5xx, all taking d.
func counts(n, x int64, d time.Duration) metrics.Stats {
	st := metrics.Stats{Requests: n, Status5xx: x, Status2xx: n - x}
	for range n {
		st.Latency.Add(d)
	}
	return st
}

func TestSPRTEvidenceDirection(t *testing.T) {
	const delta = 0.02
	worse := sprtEvidence(100, 10000, 60, 2000, delta)
	if worse.LogFail < math.Log(400) {
		t.Errorf("1%% of 10,000 vs 3%% of 2,000: log LR %.2f, want beyond log 400", worse.LogFail)
	}
	same := sprtEvidence(10, 1000, 10, 1000, delta)
	if same.LogPass < math.Log(100) {
		t.Errorf("1%% vs 1%%: log LR for passing %.2f, want beyond log 100", same.LogPass)
	}
	if same.LogPass != -same.LogFail {
		t.Errorf("the two log LRs are not opposite: %+v", same)
	}
	// No errors at all: each request is a little evidence that the canary
	// is not 2 points worse, about −log(1−δ).
	clean := sprtEvidence(0, 900, 0, 100, delta)
	if want := -100 * math.Log1p(-delta); math.Abs(clean.LogPass-want) > 0.05*want {
		t.Errorf("zero errors: log LR for passing %.3f, want about %.3f", clean.LogPass, want)
	}
	// A baseline with few requests and none failed cannot make a few canary
	// errors decisive: they cannot be told from the baseline's.
	few := sprtEvidence(0, 150, 4, 150, delta)
	if few.LogFail > math.Log(400) {
		t.Errorf("4 of 150 vs 0 of 150: log LR %.2f fails the canary", few.LogFail)
	}
}

func TestJudgeStepLevels(t *testing.T) {
	cfg := Config{}
	ms := time.Millisecond
	base := counts(1000, 10, 10*ms)
	// 150 canary requests at 1%: little evidence either way.
	early := Window{Baseline: base, Canary: counts(150, 2, 10*ms)}
	if r := JudgeStep(cfg, Step{Index: 1, Of: 2}, early, Window{}); r.Verdict != Pass {
		t.Errorf("first of two steps, no failure: %s %q, want pass", r.Verdict, r.Reason)
	}
	if r := JudgeStep(cfg, Step{Index: 2, Of: 2}, early, Window{}); r.Verdict != Wait {
		t.Errorf("last step on 150 canary requests: %s %q, want wait for the full evidence", r.Verdict, r.Reason)
	}
	if r := Judge(cfg, early.Baseline, early.Canary); r.Verdict != Wait {
		t.Errorf("Judge is a last step: %s %q, want wait", r.Verdict, r.Reason)
	}
	// Half-way to failing holds an earlier step.
	leaning := Window{Baseline: base, Canary: counts(150, 8, 10*ms)}
	r := JudgeStep(cfg, Step{Index: 1, Of: 2}, leaning, Window{})
	if r.Verdict != Wait || !strings.Contains(r.Reason, "too close") {
		t.Errorf("8 of 150 against 1%%: %s %q, want held at its step", r.Verdict, r.Reason)
	}
	// Too little data is wait, even with every canary request failing.
	tiny := Window{Baseline: counts(90, 0, 10*ms), Canary: counts(10, 10, 10*ms)}
	if r := JudgeStep(cfg, Step{Index: 1, Of: 2}, tiny, Window{}); r.Verdict != Wait || !strings.Contains(r.Reason, "waiting for data") {
		t.Errorf("below min_requests: %s %q, want wait", r.Verdict, r.Reason)
	}
}

// TestStepWindowCatchesWhatTheCanaryWindowDilutes: a canary good at 10% that
// fails 4% of its requests at 50% fails on the step's own window while
// everything since the canary began still looks acceptable.
func TestStepWindowCatchesWhatTheCanaryWindowDilutes(t *testing.T) {
	ms := time.Millisecond
	first := Window{Baseline: counts(20000, 200, 10*ms), Canary: counts(4000, 40, 10*ms)}
	step := Window{Baseline: counts(700, 7, 10*ms), Canary: counts(700, 30, 10*ms)}
	whole := Window{Baseline: first.Baseline, Canary: first.Canary}
	whole.Baseline.Requests += step.Baseline.Requests
	whole.Baseline.Status5xx += step.Baseline.Status5xx
	whole.Baseline.Status2xx += step.Baseline.Status2xx
	whole.Baseline.Latency.Merge(&step.Baseline.Latency)
	whole.Canary.Requests += step.Canary.Requests
	whole.Canary.Status5xx += step.Canary.Status5xx
	whole.Canary.Status2xx += step.Canary.Status2xx
	whole.Canary.Latency.Merge(&step.Canary.Latency)
	alone := JudgeStep(Config{}, Step{Index: 2, Of: 2}, whole, Window{})
	if alone.Verdict == Fail {
		t.Fatalf("the canary's window alone already fails: %q; the case does not test the step window", alone.Reason)
	}
	r := JudgeStep(Config{}, Step{Index: 2, Of: 2}, whole, step)
	if r.Verdict != Fail || !strings.Contains(r.Reason, "this step's") {
		t.Fatalf("with the step's window: %s %q, want a failure of this step's error rate", r.Verdict, r.Reason)
	}
	var windows []string
	for _, c := range r.Checks {
		windows = append(windows, c.Window)
	}
	if len(r.Checks) != 6 || windows[0] != WindowCanary || windows[5] != WindowStep {
		t.Errorf("checks by window %v, want 3 canary then 3 step", windows)
	}
}
