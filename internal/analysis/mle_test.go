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
