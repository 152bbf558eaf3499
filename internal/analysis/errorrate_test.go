package analysis

import (
	"math"
	"testing"
)

func TestRestrictedMLEIsOnTheBoundary(t *testing.T) {
	tests := []struct {
		name           string
		xb, nb, xc, nc int64
		margin         float64
		want           float64
	}{
		{"no errors pins baseline at zero", 0, 900, 0, 100, 0.01, 0.01},
		{"all errors pins canary at one", 900, 900, 100, 100, 0.01, 1},
		{"rates exactly margin apart", 10, 1000, 20, 1000, 0.01, 0.02},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := restrictedMLE(tt.xb, tt.nb, tt.xc, tt.nc, tt.margin); math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("restrictedMLE = %g, want %g", got, tt.want)
			}
		})
	}
}

func TestProportionsDirection(t *testing.T) {
	worse := testProportions(10, 1000, 100, 1000, 0.01)
	if worse.PWorse > 1e-6 || worse.PWithin < 0.99 {
		t.Errorf("10%% vs 1%%: PWorse %g PWithin %g, want strong evidence of worse", worse.PWorse, worse.PWithin)
	}
	same := testProportions(100, 10000, 100, 10000, 0.01)
	if same.PWithin > 1e-6 || same.PWorse < 0.99 {
		t.Errorf("1%% vs 1%%: PWorse %g PWithin %g, want strong evidence of within", same.PWorse, same.PWithin)
	}
	if math.Abs(worse.Diff-0.09) > 1e-12 {
		t.Errorf("Diff = %g, want 0.09", worse.Diff)
	}
}

// exactRejectRate returns the exact probability, over all outcomes of two
// binomial samples, that reject holds.
func exactRejectRate(pb float64, nb int64, pc float64, nc int64, reject func(xb, xc int64) bool) float64 {
	pmf := func(n int64, p float64) []float64 {
		out := make([]float64, n+1)
		if p == 0 {
			out[0] = 1
			return out
		}
		for k := range out {
			out[k] = math.Exp(logBinomPMF(int64(k), n, p))
		}
		return out
	}
	mb, mc := pmf(nb, pb), pmf(nc, pc)
	total := 0.0
	for xc, wc := range mc {
		if wc < 1e-15 {
			continue
		}
		for xb, wb := range mb {
			if wb < 1e-15 {
				continue
			}
			if reject(int64(xb), int64(xc)) {
				total += wc * wb
			}
		}
	}
	return total
}

// TestProportionsSizeAtSmallCounts computes, by exact enumeration, how often
// each one-sided test rejects when the true rates sit exactly on the margin
// (the worst case for both), at the sample sizes a canary at 10% weight sees
// shortly after its minimum request count.
func TestProportionsSizeAtSmallCounts(t *testing.T) {
	const alpha, margin = 0.01, 0.01
	for _, pb := range []float64{0, 0.001, 0.01, 0.02, 0.05} {
		for _, nc := range []int64{100, 300, 1000} {
			nb := 9 * nc
			worse := exactRejectRate(pb, nb, pb+margin, nc, func(xb, xc int64) bool {
				return testProportions(xb, nb, xc, nc, margin).PWorse <= alpha
			})
			within := exactRejectRate(pb, nb, pb+margin, nc, func(xb, xc int64) bool {
				return testProportions(xb, nb, xc, nc, margin).PWithin <= alpha
			})
			t.Logf("pb=%g nb=%d nc=%d: P(worse)=%.4f P(within)=%.4f", pb, nb, nc, worse, within)
			if worse > alpha*1.25 || within > alpha*1.25 {
				t.Errorf("pb=%g nc=%d: size P(worse)=%.4f P(within)=%.4f exceeds %g", pb, nc, worse, within, alpha)
			}
		}
	}
}
