package analysis

import (
	"math"
	"testing"
)

// bruteCDF sums the binomial mass directly with big-step-free float math.
func bruteCDF(k, n int64, p float64) float64 {
	sum := 0.0
	for j := int64(0); j <= k && j <= n; j++ {
		sum += math.Exp(logBinomPMF(j, n, p))
	}
	return sum
}

func TestBinomCDFMatchesDirectSum(t *testing.T) {
	for _, n := range []int64{1, 2, 7, 50, 333, 2000} {
		for _, p := range []float64{0.001, 0.01, 0.3, 0.5, 0.99} {
			for k := int64(0); k <= n; k += max(1, n/37) {
				got, want := binomCDF(k, n, p), bruteCDF(k, n, p)
				if math.Abs(got-want) > 1e-12+1e-9*want {
					t.Fatalf("binomCDF(%d, %d, %g) = %.15g, want %.15g", k, n, p, got, want)
				}
			}
		}
	}
}

func TestBinomCDFEdges(t *testing.T) {
	tests := []struct {
		name string
		k, n int64
		p    float64
		want float64
	}{
		{"negative k", -1, 10, 0.5, 0},
		{"k at n", 10, 10, 0.5, 1},
		{"p zero", 0, 10, 0, 1},
		{"p one", 9, 10, 1, 0},
		{"zero successes", 0, 10, 0.5, math.Pow(0.5, 10)},
		{"far lower tail", 0, 1_000_000, 0.5, 0},
		{"far upper tail", 999_999, 1_000_000, 0.5, 1},
		{"median of large n", 500_000, 1_000_001, 0.5, 0.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := binomCDF(tt.k, tt.n, tt.p); math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("binomCDF(%d, %d, %g) = %g, want %g", tt.k, tt.n, tt.p, got, tt.want)
			}
		})
	}
}

func TestBinomSFComplementsCDF(t *testing.T) {
	for k := int64(0); k <= 40; k++ {
		if got := binomSF(k, 40, 0.3) + binomCDF(k-1, 40, 0.3); math.Abs(got-1) > 1e-12 {
			t.Fatalf("SF(%d)+CDF(%d) = %g, want 1", k, k-1, got)
		}
	}
}

func TestNormalCDF(t *testing.T) {
	for _, tt := range []struct{ z, want float64 }{{0, 0.5}, {1.959964, 0.975}, {-2.326348, 0.01}} {
		if got := normalCDF(tt.z); math.Abs(got-tt.want) > 1e-6 {
			t.Errorf("normalCDF(%g) = %g, want %g", tt.z, got, tt.want)
		}
	}
}
