package analysis

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// testEdges are log-spaced bucket bounds like the metrics histogram's: 256
// buckets of ~6% relative width from 10µs.
var testEdges = func() []float64 {
	e := make([]float64, 256)
	for i := range e {
		e[i] = 10e3 * math.Pow(1.06, float64(i))
	}
	return e
}()

// fill returns the buckets of n samples drawn by sample.
func fill(n int, sample func() float64) buckets {
	counts := make([]uint64, len(testEdges))
	for range n {
		x := sample()
		i := 0
		for i < len(testEdges)-1 && x > testEdges[i] {
			i++
		}
		counts[i]++
	}
	return newBuckets(testEdges, counts)
}

// lognormal returns a sampler of median·e^(σZ) + shift, in nanoseconds.
func lognormal(r *rand.Rand, median time.Duration, sigma float64, shift time.Duration) func() float64 {
	return func() float64 { return float64(median)*math.Exp(sigma*r.NormFloat64()) + float64(shift) }
}

var defaultTol = latencyTolerance{Relative: 0.2, Absolute: float64(5 * time.Millisecond)}

func TestQuantileDetectsLargeShift(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	base := fill(2000, lognormal(r, 20*time.Millisecond, 0.5, 0))
	slow := fill(200, lognormal(r, 20*time.Millisecond, 0.5, 200*time.Millisecond))
	for _, q := range []float64{0.5, 0.99} {
		res := testQuantile(q, defaultTol, base, slow)
		if res.PWorse > 1e-6 {
			t.Errorf("q=%g +200ms: PWorse = %g, want < 1e-6", q, res.PWorse)
		}
		if res.PWithin < 0.5 {
			t.Errorf("q=%g +200ms: PWithin = %g, want large", q, res.PWithin)
		}
		if res.Canary < res.Limit {
			t.Errorf("q=%g +200ms: canary estimate %g below limit %g", q, res.Canary, res.Limit)
		}
	}
}

func TestQuantileToleratesSmallShift(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	base := fill(20000, lognormal(r, 20*time.Millisecond, 0.5, 0))
	near := fill(2000, lognormal(r, 20*time.Millisecond, 0.5, 2*time.Millisecond))
	for _, q := range []float64{0.5, 0.99} {
		res := testQuantile(q, defaultTol, base, near)
		if res.PWorse < 0.5 {
			t.Errorf("q=%g +2ms: PWorse = %g, want large", q, res.PWorse)
		}
		if res.PWithin > 0.001 {
			t.Errorf("q=%g +2ms: PWithin = %g, want < 0.001", q, res.PWithin)
		}
	}
}

func TestQuantileEmptyAndIdentical(t *testing.T) {
	empty := newBuckets(testEdges, make([]uint64, len(testEdges)))
	r := rand.New(rand.NewPCG(5, 6))
	some := fill(1000, lognormal(r, 20*time.Millisecond, 0.5, 0))
	for _, tt := range []struct {
		name         string
		base, canary buckets
	}{{"both empty", empty, empty}, {"empty baseline", empty, some}, {"empty canary", some, empty}} {
		res := testQuantile(0.5, defaultTol, tt.base, tt.canary)
		if res.PWorse != 1 || res.PWithin != 1 {
			t.Errorf("%s: PWorse %g PWithin %g, want 1 and 1", tt.name, res.PWorse, res.PWithin)
		}
	}
	res := testQuantile(0.5, defaultTol, some, some)
	if res.PWorse < 0.5 || res.PWithin > 1e-6 {
		t.Errorf("identical: PWorse %g PWithin %g, want large and tiny", res.PWorse, res.PWithin)
	}
	if res.Baseline != res.Canary || res.Baseline == 0 {
		t.Errorf("identical: estimates %g and %g, want equal and positive", res.Baseline, res.Canary)
	}
}

func TestQuantileOverflowBucketNeverBoundsAbove(t *testing.T) {
	counts := make([]uint64, len(testEdges))
	counts[len(counts)-1] = 5000
	all := newBuckets(testEdges, counts)
	if res := testQuantile(0.5, defaultTol, all, all); res.PWithin != 1 {
		t.Errorf("everything overflowed: PWithin = %g, want 1", res.PWithin)
	}
}

// TestQuantileSizeOnTheBoundary draws canaries whose quantile sits exactly on
// the tolerated limit (every latency 20% higher, above the 5 ms floor for
// p99) and checks that neither conclusion is reached more often than its
// level allows.
func TestQuantileSizeOnTheBoundary(t *testing.T) {
	const reps, level, q = 400, 0.05, 0.99
	r := rand.New(rand.NewPCG(7, 8))
	worse, within := 0, 0
	for range reps {
		base := fill(3000, lognormal(r, 20*time.Millisecond, 0.5, 0))
		scaled := lognormal(r, 20*time.Millisecond, 0.5, 0)
		canary := fill(1000, func() float64 { return 1.2 * scaled() })
		res := testQuantile(q, defaultTol, base, canary)
		if res.PWorse <= level {
			worse++
		}
		if res.PWithin <= level {
			within++
		}
	}
	// Binomial(400, 0.05) exceeds 32 with probability < 0.1%.
	if worse > 32 || within > 32 {
		t.Errorf("on the boundary: %d worse and %d within of %d at level %g", worse, within, reps, level)
	}
	t.Logf("on the boundary: %d worse, %d within of %d at level %g", worse, within, reps, level)
}

func TestMinMaxCrossing(t *testing.T) {
	down := []float64{9, 7, 5, 3, 1}
	up := []float64{0, 2, 4, 6, 8}
	got := minMaxCrossing(0, 4, func(k int64) float64 { return down[k] }, func(k int64) float64 { return up[k] })
	if got != 5 {
		t.Errorf("minMaxCrossing = %g, want 5", got)
	}
	if got := minMaxCrossing(0, 4, func(int64) float64 { return 1 }, func(int64) float64 { return 0 }); got != 1 {
		t.Errorf("never crossing: %g, want 1", got)
	}
}

// bounds returns the one-sided order-statistic confidence bounds of the
// q-quantile at level β by direct search over ranks.
func bounds(b buckets, q, beta float64) (lo, hi float64) {
	n := b.total()
	l := int64(0)
	for l < n && binomCDF(l, n, q) <= beta { // P(B ≤ (l+1)−1) ≤ β
		l++
	}
	u := n + 1
	for u > 1 && binomSF(u-1, n, q) <= beta {
		u--
	}
	return b.value(l, true), b.value(u, false)
}

// TestQuantilePValuesInvertTheBounds checks the p-values against the
// decisions made directly from confidence bounds just above and below them.
func TestQuantilePValuesInvertTheBounds(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	checked := 0
	for i, shift := range []time.Duration{0, 2 * time.Millisecond, 8 * time.Millisecond, 15 * time.Millisecond, 40 * time.Millisecond} {
		base := fill(800, lognormal(r, 20*time.Millisecond, 0.5, 0))
		canary := fill(300, lognormal(r, 20*time.Millisecond, 0.5, shift))
		for _, q := range []float64{0.5, 0.9} {
			res := testQuantile(q, defaultTol, base, canary)
			worseAt := func(beta float64) bool {
				lc, _ := bounds(canary, q, beta)
				_, ub := bounds(base, q, beta)
				return lc > defaultTol.limit(ub)
			}
			withinAt := func(beta float64) bool {
				_, uc := bounds(canary, q, beta)
				lb, _ := bounds(base, q, beta)
				return uc <= defaultTol.limit(lb)
			}
			for _, c := range []struct {
				name string
				p    float64
				at   func(float64) bool
			}{{"worse", res.PWorse, worseAt}, {"within", res.PWithin, withinAt}} {
				if c.p <= 1e-12 || c.p >= 1 {
					continue
				}
				checked++
				if !c.at(c.p/2*1.0001) || c.at(c.p/2*0.9999) {
					t.Errorf("case %d q=%g %s: p=%g does not mark where the decision flips", i, q, c.name, c.p)
				}
			}
		}
	}
	if checked < 6 {
		t.Errorf("only %d p-values strictly between 0 and 1 were checked, want ≥ 6", checked)
	}
}

func TestBucketsValueAndRankAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	b := fill(500, lognormal(r, 20*time.Millisecond, 1, 0))
	for rank := int64(1); rank <= b.total(); rank++ {
		v := b.value(rank, true)
		if got := b.rankAtMost(v*(1+1e-9), true); got < rank {
			t.Fatalf("rankAtMost(value(%d)) = %d, want ≥ %d", rank, got, rank)
		}
		if got := b.rankAtMost(v*(1-1e-9), true); got >= rank {
			t.Fatalf("rankAtMost(just below value(%d)) = %d, want < %d", rank, got, rank)
		}
	}
}
