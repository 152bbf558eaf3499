package analysis

import (
	"math"
	"sort"
)

// latencyTolerance is the largest canary quantile still within tolerance of
// a baseline quantile x: x + max(x·Relative, Absolute). It is increasing in
// x, which is what makes comparing confidence bounds through it sound.
type latencyTolerance struct {
	Relative float64 // fraction, 0.2 for 20%
	Absolute float64 // nanoseconds
}

// limit returns the tolerated canary value for a baseline value x (ns).
func (t latencyTolerance) limit(x float64) float64 {
	return x + math.Max(x*t.Relative, t.Absolute)
}

// buckets is a histogram as counts per bucket with the bucket bounds: bucket
// i holds observations in (upper[i-1], upper[i]], with upper[-1] = 0, and the
// last bucket is unbounded above (it also holds everything that overflowed).
//
// Observations are ranked 1..n. Within a bucket, the k-th of c observations
// is placed at fraction (k−½)/c of the bucket on a log scale (linear in the
// first bucket), which is accurate to a small part of the bucket width for
// any smooth latency distribution. The ranks themselves are exact.
type buckets struct {
	upper  []float64 // nanoseconds, strictly increasing
	counts []uint64
	cum    []int64 // cum[i] = observations in buckets 0..i
}

// newBuckets returns counts with the shared upper bounds and running totals.
func newBuckets(upper []float64, counts []uint64) buckets {
	cum := make([]int64, len(counts))
	var c int64
	for i, n := range counts {
		c += int64(n)
		cum[i] = c
	}
	return buckets{upper: upper, counts: counts, cum: cum}
}

// total returns the number of observations.
func (b buckets) total() int64 {
	if len(b.cum) == 0 {
		return 0
	}
	return b.cum[len(b.cum)-1]
}

// before returns the number of observations in buckets below i.
func (b buckets) before(i int) int64 {
	if i <= 0 {
		return 0
	}
	return b.cum[i-1]
}

// lower returns the lower bound of bucket i (0 for the first bucket).
func (b buckets) lower(i int) float64 {
	if i <= 0 {
		return 0
	}
	return b.upper[i-1]
}

// value returns the value of the observation of rank r: 0 for r < 1, +Inf
// for r > n. In the unbounded last bucket it is that bucket's lower bound
// when asLower is set (a value used as a lower bound) and +Inf otherwise.
func (b buckets) value(r int64, asLower bool) float64 {
	n := b.total()
	switch {
	case r < 1:
		return 0
	case r > n:
		return math.Inf(1)
	}
	last := len(b.cum) - 1
	j := sort.Search(len(b.cum), func(i int) bool { return b.cum[i] >= r })
	if j == last {
		if asLower {
			return b.lower(j)
		}
		return math.Inf(1)
	}
	frac := (float64(r-b.before(j)) - 0.5) / float64(b.counts[j])
	lo, hi := b.lower(j), b.upper[j]
	if lo == 0 {
		return hi * frac
	}
	return lo * math.Pow(hi/lo, frac)
}

// rankAtMost returns how many observations have value(r, asLower) ≤ t.
func (b buckets) rankAtMost(t float64, asLower bool) int64 {
	if t <= 0 || math.IsNaN(t) {
		return 0
	}
	last := len(b.cum) - 1
	j := sort.Search(last, func(i int) bool { return b.upper[i] >= t })
	if j == last {
		if asLower && t >= b.lower(last) {
			return b.total()
		}
		return b.before(last)
	}
	lo, hi := b.lower(j), b.upper[j]
	var frac float64
	if lo == 0 {
		frac = t / hi
	} else {
		frac = math.Log(t/lo) / math.Log(hi/lo)
	}
	c := int64(b.counts[j])
	k := min(max(int64(math.Floor(float64(c)*frac+0.5)), 0), c)
	return b.before(j) + k
}

// estimate returns the q-quantile, the value of rank ⌈q·n⌉, 0 when empty.
func (b buckets) estimate(q float64) float64 {
	n := b.total()
	if n == 0 {
		return 0
	}
	return b.value(max(int64(math.Ceil(q*float64(n))), 1), true)
}

// quantileTest is the outcome of comparing one latency quantile.
type quantileTest struct {
	Baseline, Canary, Limit float64 // nanoseconds
	// PWorse is the p-value against "canary quantile ≤ limit(baseline quantile)".
	PWorse float64
	// PWithin is the p-value against "canary quantile > limit(baseline quantile)".
	PWithin float64
}

// testQuantile compares the q-quantile of two histograms with the same
// bucket bounds, without bootstrapping and without assuming any latency
// distribution.
//
// Each side gets a distribution-free one-sided confidence bound at level β
// from its order statistics: X(l) lies above the q-quantile with probability
// P(Binomial(n, q) ≤ l−1), and X(u) below it with probability
// P(Binomial(n, q) ≥ u). The canary is worse beyond tolerance if its lower
// bound exceeds the tolerated limit of the baseline's upper bound, and within
// tolerance if its upper bound stays at or under the limit of the baseline's
// lower bound. Because the limit is increasing, each conclusion is wrong only
// if one of the two bounds is, so its error probability is at most 2β.
//
// The reported p-values are the smallest such 2β. For the worse side, the
// conclusion holds at β exactly when some baseline rank r has
// P(B_b ≥ r) ≤ β and P(B_c ≤ R_c(limit(X_b(r)))) ≤ β, where R_c(t) counts
// canary observations at or below t; the first term shrinks and the second
// grows with r, so a binary search over r finds the smallest β. The within
// side is symmetric.
func testQuantile(q float64, tol latencyTolerance, base, canary buckets) quantileTest {
	res := quantileTest{
		Baseline: base.estimate(q),
		Canary:   canary.estimate(q),
		PWorse:   1,
		PWithin:  1,
	}
	res.Limit = tol.limit(res.Baseline)
	nb, nc := base.total(), canary.total()
	if nb == 0 || nc == 0 {
		return res
	}
	res.PWorse = minMaxCrossing(1, nb,
		func(r int64) float64 { return binomSF(r, nb, q) },
		func(r int64) float64 {
			return binomCDF(canary.rankAtMost(tol.limit(base.value(r, false)), true), nc, q)
		})
	res.PWithin = minMaxCrossing(0, nb,
		func(r int64) float64 {
			return binomSF(canary.rankAtMost(tol.limit(base.value(r, true)), false), nc, q)
		},
		func(r int64) float64 { return binomCDF(r-1, nb, q) })
	res.PWorse = math.Min(1, 2*res.PWorse)
	res.PWithin = math.Min(1, 2*res.PWithin)
	return res
}

// minMaxCrossing returns min over r in [lo, hi] of max(down(r), up(r)),
// where down is nonincreasing and up is nondecreasing in r.
func minMaxCrossing(lo, hi int64, down, up func(int64) float64) float64 {
	// First r where down(r) ≤ up(r); the minimum is there or just before it.
	n := int(hi - lo + 1)
	r := lo + int64(sort.Search(n, func(i int) bool { return down(lo+int64(i)) <= up(lo+int64(i)) }))
	best := math.Inf(1)
	if r <= hi {
		best = up(r)
	}
	if r > lo {
		best = math.Min(best, down(r-1))
	}
	return best
}
