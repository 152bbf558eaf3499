package analysis

import (
	"fmt"
	"math"

	"github.com/cutover-dev/cutover/internal/metrics"
)

// judgement holds what every check of one Judge call shares.
type judgement struct {
	alpha  float64 // 1 − Confidence
	enough bool    // both versions have MinRequests
}

// verdict turns the two one-sided p-values of a check into its verdict:
// failing takes a Bonferroni share of alpha (any failing check fails the
// canary), passing takes all of it (every check must pass, so the overall
// pass is an intersection–union test at level alpha).
func (j judgement) verdict(pWorse, pWithin float64) Verdict {
	switch {
	case !j.enough:
		return Wait
	case pWorse <= j.alpha/numChecks:
		return Fail
	case pWithin <= j.alpha:
		return Pass
	}
	return Wait
}

// errorRate compares the share of requests that failed (5xx, including
// connection failures) with a margin of maxIncrease percentage points.
func (j judgement) errorRate(maxIncrease float64, baseline, canary metrics.Stats) Check {
	xb, nb := errorCount(baseline), baseline.Requests
	xc, nc := errorCount(canary), canary.Requests
	c := Check{
		Name:     CheckErrorRate,
		Baseline: percent(xb, nb),
		Canary:   percent(xc, nc),
		PValue:   1,
		PWithin:  1,
	}
	c.Limit = c.Baseline + maxIncrease
	if nb <= 0 || nc <= 0 {
		c.Reason = fmt.Sprintf("error rates cannot be compared with %d baseline and %d canary requests", max(nb, 0), max(nc, 0))
		return c
	}
	t := testProportions(xb, nb, xc, nc, maxIncrease/100)
	c.PValue, c.PWithin = t.PWorse, t.PWithin
	c.Verdict = j.verdict(t.PWorse, t.PWithin)
	rates := fmt.Sprintf("canary error rate %s vs baseline %s", pct(c.Canary), pct(c.Baseline))
	switch {
	case !j.enough:
		c.Reason = rates + ", not judged before the minimum request count"
	case c.Verdict == Fail:
		c.Reason = fmt.Sprintf("%s exceeds the %g-point tolerance (%s)", rates, maxIncrease, pText(c.PValue))
	case c.Verdict == Pass:
		c.Reason = fmt.Sprintf("%s is within the %g-point tolerance", rates, maxIncrease)
	default:
		c.Reason = fmt.Sprintf("%s is not yet conclusive against the %g-point tolerance (%s worse, %s within)",
			rates, maxIncrease, pText(c.PValue), pText(c.PWithin))
	}
	return c
}

// latency compares the q-quantile of the latency histograms.
func (j judgement) latency(name string, q float64, tol latencyTolerance, base, canary buckets) Check {
	label := fmt.Sprintf("p%g", q*100)
	t := testQuantile(q, tol, base, canary)
	c := Check{
		Name:     name,
		Baseline: ms(t.Baseline),
		Canary:   ms(t.Canary),
		Limit:    ms(t.Limit),
		PValue:   t.PWorse,
		PWithin:  t.PWithin,
	}
	if base.total() == 0 || canary.total() == 0 {
		c.Reason = fmt.Sprintf("%s cannot be compared with %d baseline and %d canary latencies", label, base.total(), canary.total())
		return c
	}
	c.Verdict = j.verdict(t.PWorse, t.PWithin)
	values := fmt.Sprintf("canary %s %s vs baseline %s (limit %s)", label, msText(c.Canary), msText(c.Baseline), msText(c.Limit))
	if c.Verdict == Wait && j.enough && settledTail(q, base.total(), canary.total()) && t.PWorse >= 0.5 && t.Canary <= t.Limit {
		// Enough requests beyond the quantile that its point estimates are
		// stable, yet the bounds cannot resolve the tolerance: the tail is
		// made of the machine's scheduling stalls, not of the version
		// (see "Latency on a busy machine" in the package documentation).
		c.Verdict = Pass
		c.Reason = fmt.Sprintf("%s is within tolerance (point estimates: %s is too noisy on this machine to bound; no sign of a regression, %s worse)",
			values, label, pText(c.PValue))
		return c
	}
	switch {
	case !j.enough:
		c.Reason = values + ", not judged before the minimum request count"
	case c.Verdict == Fail:
		c.Reason = fmt.Sprintf("%s is beyond tolerance (%s)", values, pText(c.PValue))
	case c.Verdict == Pass:
		c.Reason = values + " is within tolerance"
	default:
		c.Reason = fmt.Sprintf("%s is not yet conclusive (%s worse, %s within)", values, pText(c.PValue), pText(c.PWithin))
	}
	return c
}

// errorCount returns the failed requests of s: 5xx responses, which include
// connection failures, never more than Requests.
func errorCount(s metrics.Stats) int64 {
	return min(max(s.Status5xx, s.ConnErrors, 0), max(s.Requests, 0))
}

// percent returns 100·x/n, 0 when n ≤ 0.
func percent(x, n int64) float64 {
	if n <= 0 {
		return 0
	}
	return 100 * float64(x) / float64(n)
}

// ms converts nanoseconds to milliseconds.
func ms(ns float64) float64 { return ns / 1e6 }

// pct formats a percentage for a reason.
func pct(p float64) string { return fmt.Sprintf("%.2f%%", p) }

// msText formats milliseconds for a reason, with 3 significant digits.
func msText(v float64) string {
	if math.IsInf(v, 1) {
		return "unbounded"
	}
	return fmt.Sprintf("%.3gms", v)
}

// pText formats a p-value for a reason.
func pText(p float64) string {
	if p < 1e-9 {
		return "p<1e-9"
	}
	return fmt.Sprintf("p=%.2g", p)
}

// tailSettle is how many observations beyond a quantile each version needs
// before a latency check may pass on point estimates.
const tailSettle = 20

// settledTail reports whether both versions have tailSettle observations
// beyond the q-quantile.
func settledTail(q float64, nb, nc int64) bool {
	need := float64(tailSettle) / (1 - q)
	return float64(nb) >= need && float64(nc) >= need
}
