package analysis

import (
	"fmt"
	"math"

	"github.com/cutover-dev/cutover/internal/metrics"
)

// judgement holds what every check of one window shares.
type judgement struct {
	levels
	enough bool   // both versions have MinRequests
	window string // WindowCanary or WindowStep
}

// levels are the p-values at or below which the checks of one window fail
// and pass. A pass level of 1 needs no evidence (only no failure), one of 0
// never passes.
type levels struct {
	errFail, errFailStep, errPass float64
	// errHold holds an earlier step while the error rate's PValue is at
	// or below it: a canary half-way (in log odds) to failing stays at its
	// weight until the evidence settles. 0 at the last step.
	errHold          float64
	latFail, latPass float64
}

// levelsFor shares α between the checks and windows of a judgement at step.
//
// Failing: the error rate's SPRT gets α/2, half of it for the canary's
// window and half shared by the windows of steps 2..n; each latency check
// gets α/4 per window. Passing needs every check of the canary's window to
// pass (an intersection–union test, no correction): at the last step each
// at level α, at an earlier step k the error rate at α^((k−1)/(n−1)) while
// its regression evidence is below √(1/errFail), and the latency checks
// with no failure.
func levelsFor(alpha float64, st Step) levels {
	l := levels{
		errFail:     alpha / 4,
		errFailStep: alpha / 4,
		latFail:     alpha / 4,
		errPass:     alpha,
		latPass:     alpha,
	}
	if st.Of > 1 {
		l.errFailStep = alpha / 4 / float64(st.Of-1)
	}
	if st.Index < st.Of {
		l.errPass = math.Pow(alpha, float64(st.Index-1)/float64(st.Of-1))
		l.errHold = math.Sqrt(l.errFail)
		l.latPass = 1
	}
	return l
}

// verdict turns the two one-sided p-values of a check into its verdict.
func (j judgement) verdict(pWorse, pWithin, failAt, passAt float64) Verdict {
	switch {
	case !j.enough:
		return Wait
	case pWorse <= failAt:
		return Fail
	case pWithin <= passAt:
		return Pass
	}
	return Wait
}

// errorRate runs the error-rate SPRT: canary as good as the baseline
// against canary 2·maxIncrease percentage points worse, so that the
// tolerance lies in the middle of the two (see the package documentation).
func (j judgement) errorRate(maxIncrease float64, baseline, canary metrics.Stats) Check {
	xb, nb := errorCount(baseline), baseline.Requests
	xc, nc := errorCount(canary), canary.Requests
	failAt, passAt := j.errFail, j.errPass
	if j.window == WindowStep {
		failAt = j.errFailStep
	}
	c := Check{
		Name:     CheckErrorRate,
		Window:   j.window,
		Baseline: percent(xb, nb),
		Canary:   percent(xc, nc),
		PValue:   1,
		PWithin:  1,
		FailAt:   failAt,
		PassAt:   passAt,
	}
	c.Limit = c.Baseline + maxIncrease
	if nb <= 0 || nc <= 0 {
		c.Reason = fmt.Sprintf("error rates cannot be compared with %d baseline and %d canary requests", max(nb, 0), max(nc, 0))
		return c
	}
	delta := 2 * maxIncrease / 100
	e := sprtEvidence(xb, nb, xc, nc, delta)
	c.PValue, c.PWithin = math.Min(1, math.Exp(-e.LogFail)), math.Min(1, math.Exp(-e.LogPass))
	c.Verdict = j.verdict(c.PValue, c.PWithin, failAt, passAt)
	held := c.Verdict == Pass && c.PValue <= j.errHold
	if held {
		c.Verdict = Wait
	}
	rates := fmt.Sprintf("%scanary error rate %s vs baseline %s", j.label(), pct(c.Canary), pct(c.Baseline))
	worse := fmt.Sprintf("+%g points", 2*maxIncrease)
	switch {
	case !j.enough:
		c.Reason = rates + ", not judged before the minimum request count"
	case c.Verdict == Fail:
		c.Reason = fmt.Sprintf("%s: the odds of %s against none are %s, beyond %s (%g-point tolerance)",
			rates, worse, odds(c.PValue), odds(failAt), maxIncrease)
	case held:
		c.Reason = fmt.Sprintf("%s: the odds of %s against none are %s, too close to the %s that fail to move on",
			rates, worse, odds(c.PValue), odds(failAt))
	case c.Verdict == Pass && passAt >= 1:
		c.Reason = fmt.Sprintf("%s shows no regression beyond the %g-point tolerance yet", rates, maxIncrease)
	case c.Verdict == Pass:
		c.Reason = fmt.Sprintf("%s is within the %g-point tolerance: the odds of no regression against %s are %s, past %s",
			rates, maxIncrease, worse, odds(c.PWithin), odds(passAt))
	case passAt <= 0:
		c.Reason = fmt.Sprintf("%s: the odds of %s against none are %s, short of the %s that fail",
			rates, worse, odds(c.PValue), odds(failAt))
	default:
		c.Reason = fmt.Sprintf("%s is not yet conclusive against the %g-point tolerance (odds %s for no regression, %s needed; %s for %s)",
			rates, maxIncrease, odds(c.PWithin), odds(passAt), odds(c.PValue), worse)
	}
	return c
}

// label prefixes a reason of a step-window check.
func (j judgement) label() string {
	if j.window == WindowStep {
		return "this step's "
	}
	return ""
}

// odds formats the likelihood ratio 1/p as odds for a reason.
func odds(p float64) string {
	switch {
	case p <= 0:
		return "∞:1"
	case p >= 1:
		return "1:1"
	case 1/p >= 1e6:
		return fmt.Sprintf("%.2g:1", 1/p)
	}
	return fmt.Sprintf("%.0f:1", 1/p)
}

// latency compares the q-quantile of the latency histograms.
func (j judgement) latency(name string, q float64, tol latencyTolerance, base, canary buckets) Check {
	label := fmt.Sprintf("p%g", q*100)
	t := testQuantile(q, tol, base, canary)
	c := Check{
		Name:     name,
		Window:   j.window,
		FailAt:   j.latFail,
		PassAt:   j.latPass,
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
	c.Verdict = j.verdict(t.PWorse, t.PWithin, j.latFail, j.latPass)
	unsettled := c.Verdict == Fail && !tailAtLeast(tailFail, q, base.total(), canary.total())
	if unsettled {
		c.Verdict = Wait
	}
	values := fmt.Sprintf("%scanary %s %s vs baseline %s (limit %s)", j.label(), label, msText(c.Canary), msText(c.Baseline), msText(c.Limit))
	if c.Verdict == Wait && j.latPass > 0 && j.enough && settledTail(q, base.total(), canary.total()) && t.PWorse >= 0.5 && t.Canary <= t.Limit {
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
	case unsettled:
		c.Reason = fmt.Sprintf("%s looks beyond tolerance (%s) but is not failed before %.0f requests per version: a few stalls make a small sample's tail",
			values, pText(c.PValue), math.Ceil(tailFail/(1-q)))
	case c.Verdict == Fail:
		c.Reason = fmt.Sprintf("%s is beyond tolerance (%s)", values, pText(c.PValue))
	case c.Verdict == Pass && j.latPass >= 1:
		c.Reason = values + " shows no regression"
	case c.Verdict == Pass:
		c.Reason = values + " is within tolerance"
	case j.latPass <= 0:
		c.Reason = fmt.Sprintf("%s shows no regression (%s worse)", values, pText(c.PValue))
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
const tailSettle = 20.0

// tailFail is how many observations beyond a quantile each version needs,
// on average, before a latency check of that quantile may fail: 500
// requests for p99, 10 for p50. Below it a handful of slow requests (a
// freshly started process, a few scheduling stalls on a busy machine) is
// the whole tail of the smaller sample; an identical canary on a loaded
// machine measured p99 125ms against 5ms after 100 requests.
const tailFail = 5

// settledTail reports whether both versions have tailSettle observations
// beyond the q-quantile.
func settledTail(q float64, nb, nc int64) bool {
	return tailAtLeast(tailSettle, q, nb, nc)
}

// tailAtLeast reports whether both versions have n observations beyond the
// q-quantile, on average.
func tailAtLeast(n, q float64, nb, nc int64) bool {
	need := n / (1 - q)
	return float64(nb) >= need && float64(nc) >= need
}
