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

// numChecks is how many checks share 1−Confidence for failing.
const numChecks = 3

// Check is one comparison of canary against baseline.
type Check struct {
	// Name is CheckErrorRate, CheckLatencyP50 or CheckLatencyP99.
	Name string `json:"name"`
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
	// least this strong that the canary exceeds Limit would be if it did
	// not. The check fails when PValue ≤ (1−Confidence)/3.
	PValue float64 `json:"p_value"`
	// PWithin is the p-value of the tolerance test: how likely evidence at
	// least this strong that the canary stays within Limit would be if it
	// did not. The check passes when PWithin ≤ 1−Confidence.
	PWithin float64 `json:"p_within"`
	// Reason is one sentence explaining Verdict with the numbers.
	Reason string `json:"reason"`
}

// Result is a judgement of a canary against its baseline.
type Result struct {
	// Verdict is Fail if any check fails, Pass if every check passes, and
	// Wait otherwise or while either version has fewer than MinRequests.
	Verdict Verdict `json:"verdict"`
	// Reason is one sentence explaining Verdict with the numbers.
	Reason string `json:"reason"`
	// Checks are the individual comparisons (absent for an invalid Config).
	Checks []Check `json:"checks,omitempty"`
	// BaselineRequests and CanaryRequests are the sample sizes judged.
	BaselineRequests int64 `json:"baseline_requests"`
	CanaryRequests   int64 `json:"canary_requests"`
}

// bucketUppers holds metrics.BucketUpper for every bucket, in nanoseconds.
var bucketUppers = sync.OnceValue(func() []float64 {
	u := make([]float64, metrics.NumBuckets)
	for i := range u {
		u[i] = float64(metrics.BucketUpper(i))
	}
	return u
})

// Judge compares a canary with its baseline over the same time window and
// says whether the canary may take more traffic (Pass), must be rolled back
// (Fail), or needs more data (Wait). It is a pure function, safe for
// concurrent use. An invalid cfg yields Wait with the error as Reason.
//
// Each check tests a tolerance margin, not mere difference: it fails only on
// evidence at the configured confidence that the canary is worse than the
// baseline by more than the margin, and passes only on evidence at the same
// confidence that it is not. In between, or while either version has served
// fewer than MinRequests, the verdict is Wait, never a guess; a canary whose
// baseline has no traffic is never failed. See the package documentation for
// the tests used.
func Judge(cfg Config, baseline, canary metrics.Stats) Result {
	res := Result{BaselineRequests: baseline.Requests, CanaryRequests: canary.Requests}
	if err := cfg.Validate(); err != nil {
		res.Reason = "cannot judge: " + err.Error()
		return res
	}
	cfg = cfg.WithDefaults()
	enough := baseline.Requests >= int64(cfg.MinRequests) && canary.Requests >= int64(cfg.MinRequests)
	j := judgement{alpha: 1 - cfg.Confidence, enough: enough}
	tol := latencyTolerance{
		Relative: cfg.MaxLatencyIncrease / 100,
		Absolute: float64(cfg.MinLatencyIncrease),
	}
	base := newBuckets(bucketUppers(), baseline.Latency.Counts[:])
	can := newBuckets(bucketUppers(), canary.Latency.Counts[:])
	res.Checks = []Check{
		j.errorRate(cfg.MaxErrorRateIncrease, baseline, canary),
		j.latency(CheckLatencyP50, 0.50, tol, base, can),
		j.latency(CheckLatencyP99, 0.99, tol, base, can),
	}
	if !enough {
		res.Reason = waitingForData(int64(cfg.MinRequests), baseline.Requests, canary.Requests)
		return res
	}
	res.Verdict, res.Reason = summarize(res)
	return res
}
