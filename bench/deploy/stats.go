package main

import (
	"math"
	"slices"
)

// dist summarises a sample: count and nearest-rank percentiles.
type dist struct {
	N                       int
	Min, P50, P90, P99, Max float64
}

// summarise returns the distribution of xs (xs is not modified).
func summarise(xs []float64) dist {
	if len(xs) == 0 {
		return dist{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	q := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return s[max(0, min(i, len(s)-1))]
	}
	return dist{N: len(s), Min: s[0], P50: q(0.50), P90: q(0.90), P99: q(0.99), Max: s[len(s)-1]}
}
