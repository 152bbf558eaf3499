package analysis

import "math"

// errorEvidence is the state of the error-rate SPRT on one window: the
// log-likelihood ratios of the two hypotheses, one against the other.
type errorEvidence struct {
	// LogFail is the log-likelihood ratio of "the canary fails δ more often
	// than the baseline" against "as often": large values are evidence of a
	// regression.
	LogFail float64
	// LogPass is the log-likelihood ratio of "as often" against "δ more
	// often", −LogFail: large values are evidence that the canary is as good.
	LogPass float64
}

// sprtEvidence returns the SPRT evidence of xc errors in nc canary requests
// against a baseline with xb errors in nb requests, for the difference δ
// (a fraction) between the two hypotheses. Both counts must be positive.
//
// The statistic is the log-likelihood ratio of both samples with the
// baseline's unknown rate profiled out (Bartlett 1946; Cox 1963): the
// binomial likelihood of the two counts maximised over pb under "pc = pb + δ"
// against the same maximised under "pc = pb" (the pooled rate). Profiling,
// rather than plugging in the baseline's own rate, keeps the test honest
// when the baseline has few requests or none failed: then the canary's
// errors cannot be told from the baseline's and the evidence stays small.
func sprtEvidence(xb, nb, xc, nc int64, delta float64) errorEvidence {
	pc1 := restrictedMLE(xb, nb, xc, nc, delta)
	pooled := float64(xb+xc) / float64(nb+nc)
	l1 := binomLL(xb, nb, pc1-delta) + binomLL(xc, nc, pc1)
	l0 := binomLL(xb, nb, pooled) + binomLL(xc, nc, pooled)
	d := l1 - l0
	return errorEvidence{LogFail: d, LogPass: -d}
}

// binomLL returns x·log p + (n−x)·log(1−p), with 0·log 0 = 0.
func binomLL(x, n int64, p float64) float64 {
	var l float64
	if x > 0 {
		l += float64(x) * math.Log(p)
	}
	if n > x {
		l += float64(n-x) * math.Log1p(-p)
	}
	return l
}
