package analysis

// restrictedMLE returns the canary rate pc maximising the binomial likelihood
// of both samples subject to pc − pb = δ. The log-likelihood is concave in pc
// on (δ, 1), so bisection on its derivative finds the maximum, including the
// boundary solutions that arise with zero or all errors.
func restrictedMLE(xb, nb, xc, nc int64, margin float64) float64 {
	fc, gc := float64(xc), float64(nc-xc)
	fb, gb := float64(xb), float64(nb-xb)
	slope := func(p float64) float64 {
		q := p - margin
		return fc/p - gc/(1-p) + fb/q - gb/(1-q)
	}
	lo, hi := margin, 1.0
	for range 200 {
		mid := (lo + hi) / 2
		if mid <= lo || mid >= hi {
			break
		}
		if slope(mid) > 0 {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}
