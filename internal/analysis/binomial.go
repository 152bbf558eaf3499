package analysis

import "math"

// binomCDF returns P(B ≤ k) for B ~ Binomial(n, p).
//
// It sums probability mass outward from k in the smaller tail, starting from
// an exact log-space term, so it is accurate in both tails and costs
// O(standard deviation) steps rather than O(n).
func binomCDF(k, n int64, p float64) float64 {
	switch {
	case k < 0:
		return 0
	case k >= n:
		return 1
	case p <= 0:
		return 1
	case p >= 1:
		return 0
	}
	if float64(k) < float64(n)*p {
		return lowerTail(k, n, p)
	}
	return 1 - upperTail(k+1, n, p)
}

// binomSF returns P(B ≥ k) for B ~ Binomial(n, p).
func binomSF(k, n int64, p float64) float64 {
	return 1 - binomCDF(k-1, n, p)
}

// lowerTail returns P(B ≤ k) by summing terms from k down to 0; it is meant
// for k at or below the mean, where the terms shrink geometrically.
func lowerTail(k, n int64, p float64) float64 {
	term := math.Exp(logBinomPMF(k, n, p))
	ratio := (1 - p) / p
	sum := 0.0
	for j := k; j >= 0 && term > 0; j-- {
		sum += term
		if term < sum*1e-17 {
			break
		}
		term *= float64(j) / float64(n-j+1) * ratio
	}
	return math.Min(sum, 1)
}

// upperTail returns P(B ≥ k) by summing terms from k up to n; it is meant for
// k above the mean.
func upperTail(k, n int64, p float64) float64 {
	term := math.Exp(logBinomPMF(k, n, p))
	ratio := p / (1 - p)
	sum := 0.0
	for j := k; j <= n && term > 0; j++ {
		sum += term
		if term < sum*1e-17 {
			break
		}
		term *= float64(n-j) / float64(j+1) * ratio
	}
	return math.Min(sum, 1)
}

// logBinomPMF returns log P(B = k) for B ~ Binomial(n, p), 0 < p < 1.
func logBinomPMF(k, n int64, p float64) float64 {
	ln, _ := math.Lgamma(float64(n) + 1)
	lk, _ := math.Lgamma(float64(k) + 1)
	lnk, _ := math.Lgamma(float64(n-k) + 1)
	return ln - lk - lnk + float64(k)*math.Log(p) + float64(n-k)*math.Log1p(-p)
}

// normalCDF returns Φ(z), the standard normal distribution function.
func normalCDF(z float64) float64 {
	return 0.5 * math.Erfc(-z/math.Sqrt2)
}
