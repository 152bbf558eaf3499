package analysis

import (
	"sync"

	"github.com/cutover-dev/cutover/internal/metrics"
)

// Names of the checks in Result.Checks, in this order.
const (
	CheckErrorRate  = "error_rate"
	CheckLatencyP50 = "latency_p50"
	CheckLatencyP99 = "latency_p99"
)

// Check is one comparison of canary against baseline.
type Check struct {
	// Name is CheckErrorRate, CheckLatencyP50 or CheckLatencyP99.
	Name string `json:"name"`
	// Window is WindowCanary for a check of everything since the canary
	// began, WindowStep for one of the current step's own traffic.
	Window string `json:"window"`
	// Verdict is this check's own outcome.
	Verdict Verdict `json:"verdict"`
	// Baseline and Canary are the observed values: the error rate in
	// percent, or the latency quantile in milliseconds.
	Baseline float64 `json:"baseline"`
	Canary   float64 `json:"canary"`
	// Limit is the largest canary value tolerated next to the observed
	// baseline value, in the same unit.
	Limit float64 `json:"limit"`
	// PValue is the p-value of the regression test: how likely evidence at
	// least this strong that the canary is worse would be if it were not.
	// For the error rate it is the SPRT's always-valid p-value, 1/LR (see
	// the package documentation), valid however often it is looked at; for
	// latency a fixed-sample p-value. The check fails when PValue is at
	// most FailAt.
	PValue float64 `json:"p_value"`
	// PWithin is the p-value of the tolerance test: how likely evidence at
	// least this strong that the canary is as good would be if it were
	// worse. The check passes when PWithin is at most PassAt.
	PWithin float64 `json:"p_within"`
	// FailAt and PassAt are the levels PValue and PWithin are compared
	// with; PassAt 1 means the step needs no evidence to pass this check,
	// only no failure.
	FailAt float64 `json:"fail_at"`
	PassAt float64 `json:"pass_at"`
	// Reason is one sentence explaining Verdict with the numbers.
	Reason string `json:"reason"`
}

// Result is a judgement of a canary against its baseline.
type Result struct {
	// Verdict is Fail if any check of either window fails, Pass if every
	// check of the canary's window passes, and Wait otherwise or while
	// either version has fewer than MinRequests.
	Verdict Verdict `json:"verdict"`
	// Reason is one sentence explaining Verdict with the numbers.
	Reason string `json:"reason"`
	// Checks are the individual comparisons (absent for an invalid Config).
	Checks []Check `json:"checks,omitempty"`
	// BaselineRequests and CanaryRequests are the sample sizes judged
	// since the canary began.
	BaselineRequests int64 `json:"baseline_requests"`
	CanaryRequests   int64 `json:"canary_requests"`
	// Step and Steps are the step judged, 1-based, and the number of
	// judged steps (those below 100%).
	Step  int `json:"step"`
	Steps int `json:"steps"`
}

// Windows of a Check.
const (
	WindowCanary = "canary"
	WindowStep   = "step"
)

// Step says which step of a canary a judgement is for, and so how much
// evidence passing it needs. Index is 1-based; Of is the number of steps
// below 100%, whose last one passing means promotion. The zero Step is the
// single step of a one-step plan.
type Step struct {
	Index, Of int
}

// Window is the traffic of both versions over one window.
type Window struct {
	Baseline, Canary metrics.Stats
}

// bucketUppers holds metrics.BucketUpper for every bucket, in nanoseconds.
var bucketUppers = sync.OnceValue(func() []float64 {
	u := make([]float64, metrics.NumBuckets)
	for i := range u {
		u[i] = float64(metrics.BucketUpper(i))
	}
	return u
})

// Judge compares a canary with its baseline over one window as the single,
// last step of a canary: Pass means the canary may be promoted. It is
// JudgeStep with no step window.
func Judge(cfg Config, baseline, canary metrics.Stats) Result {
	return JudgeStep(cfg, Step{}, Window{Baseline: baseline, Canary: canary}, Window{})
}

// JudgeStep compares a canary with its baseline at one step of its plan:
// canary is everything since the canary began, step the current step's own
// traffic (empty for the first step, whose traffic is canary's). It says
// whether the step may pass (Pass), the canary must be rolled back (Fail),
// or more data is needed (Wait). It is a pure function, safe for concurrent
// use. An invalid cfg yields Wait with the error as Reason.
//
// A failure of either window fails: a regression that shows only at the
// step's higher weight is not diluted by the earlier steps. Passing is
// judged on the canary's window, where evidence accumulates from step to
// step; the last step needs every check within tolerance at the configured
// confidence, an earlier step k of n only (1/α)^((k−1)/(n−1)) of the
// error-rate evidence and no failure (see "Steps" in the package
// documentation). While either version has served fewer than MinRequests
// since the canary began the verdict is Wait, never a guess; a canary whose
// baseline has no traffic is never failed.
func JudgeStep(cfg Config, step Step, canary, current Window) Result {
	if step.Of < 1 {
		step = Step{Index: 1, Of: 1}
	}
	step.Index = min(max(step.Index, 1), step.Of)
	res := Result{BaselineRequests: canary.Baseline.Requests, CanaryRequests: canary.Canary.Requests, Step: step.Index, Steps: step.Of}
	if err := cfg.Validate(); err != nil {
		res.Reason = "cannot judge: " + err.Error()
		return res
	}
	cfg = cfg.WithDefaults()
	minReq := int64(cfg.MinRequests)
	enough := func(w Window) bool { return w.Baseline.Requests >= minReq && w.Canary.Requests >= minReq }
	l := levelsFor(1-cfg.Confidence, step)
	res.Checks = judgeWindow(cfg, judgement{levels: l, enough: enough(canary), window: WindowCanary}, canary)
	if step.Index > 1 && enough(current) {
		sl := l
		sl.errPass, sl.latPass = 0, 0
		res.Checks = append(res.Checks, judgeWindow(cfg, judgement{levels: sl, enough: true, window: WindowStep}, current)...)
	}
	if !enough(canary) {
		res.Reason = waitingForData(minReq, canary.Baseline.Requests, canary.Canary.Requests)
		return res
	}
	res.Verdict, res.Reason = summarize(res)
	return res
}

// judgeWindow runs the three checks on one window.
func judgeWindow(cfg Config, j judgement, w Window) []Check {
	tol := latencyTolerance{
		Relative: cfg.MaxLatencyIncrease / 100,
		Absolute: float64(cfg.MinLatencyIncrease),
	}
	base := newBuckets(bucketUppers(), w.Baseline.Latency.Counts[:])
	can := newBuckets(bucketUppers(), w.Canary.Latency.Counts[:])
	return []Check{
		j.errorRate(cfg.MaxErrorRateIncrease, w.Baseline, w.Canary),
		j.latency(CheckLatencyP50, 0.50, tol, base, can),
		j.latency(CheckLatencyP99, 0.99, tol, base, can),
	}
}
