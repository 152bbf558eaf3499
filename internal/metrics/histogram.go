package metrics

import (
	"math"
	"time"
)

// NumBuckets is the number of histogram buckets.
//
// The buckets are geometric, 36 per decade, anchored so that every power of
// ten from 10µs to 100s is exactly a bucket boundary:
//
//	BucketUpper(i) = 10µs × 10^((i−2)/36), rounded to the nanosecond, for 0 ≤ i ≤ 254
//	bucket 0   = [0, 8.799µs]
//	bucket i   = (BucketUpper(i−1), BucketUpper(i)] for 1 ≤ i ≤ 254
//	bucket 2   ends at 10µs, bucket 182 at 1s, bucket 254 at 100s
//	bucket 255 = (100s, ∞) (overflow; BucketUpper reports math.MaxInt64)
//
// Each bucket is 10^(1/36) ≈ 1.066 times as wide as its lower bound, so every
// value in a bucket is within 3.3% of the bucket's geometric midpoint: this is
// the relative error of Quantile between 10µs and 100s.
const NumBuckets = 256

const (
	bucketsPerDecade = 36
	// anchorBucket is the bucket whose upper bound is exactly anchor.
	anchorBucket = 2
	anchor       = 10 * time.Microsecond
	// lastFinite is the last bucket with a finite upper bound (100s).
	lastFinite = NumBuckets - 2
)

// uppers holds BucketUpper for the finite buckets 0..lastFinite.
var uppers = func() [lastFinite + 1]time.Duration {
	var u [lastFinite + 1]time.Duration
	for i := range u {
		exp := float64(i-anchorBucket) / bucketsPerDecade
		u[i] = time.Duration(math.Round(float64(anchor) * math.Pow(10, exp)))
	}
	return u
}()

// Histogram is a latency histogram with fixed log-linear buckets (relative
// error ≤ ~3% from 10µs to 100s; see NumBuckets for the exact scheme). The
// zero value is empty and ready to use. A Histogram is a plain value: it is
// not safe for concurrent mutation (the live per-second histograms inside a
// Series are separate, atomic structures).
type Histogram struct {
	// Counts[i] is the number of observations in bucket i (see BucketUpper).
	Counts [NumBuckets]uint64
	// Total is the number of observations.
	Total uint64
	// Sum is the sum of observations.
	Sum time.Duration
}

// BucketUpper returns the inclusive upper bound of bucket i: 8.799µs for
// bucket 0, 10µs for bucket 2, 100s for bucket 254 and math.MaxInt64 for the
// overflow bucket 255. It panics if i is out of [0, NumBuckets).
func BucketUpper(i int) time.Duration {
	if i == NumBuckets-1 {
		return math.MaxInt64
	}
	return uppers[i]
}

// bucketLower returns the exclusive lower bound of bucket i (0 for bucket 0).
func bucketLower(i int) time.Duration {
	if i == 0 {
		return 0
	}
	return uppers[i-1]
}

// BucketOf returns the bucket index of d: the smallest i with
// d ≤ BucketUpper(i). Negative durations fall in bucket 0.
func BucketOf(d time.Duration) int {
	if d <= uppers[0] {
		return 0
	}
	if d > uppers[lastFinite] {
		return NumBuckets - 1
	}
	// Invariant: uppers[lo] < d ≤ uppers[hi].
	lo, hi := 0, lastFinite
	for hi-lo > 1 {
		mid := int(uint(lo+hi) >> 1)
		if d <= uppers[mid] {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

// Add records one observation.
func (h *Histogram) Add(d time.Duration) {
	h.Counts[BucketOf(d)]++
	h.Total++
	h.Sum += d
}

// Merge adds o's counts into h.
func (h *Histogram) Merge(o *Histogram) {
	for i, c := range o.Counts {
		h.Counts[i] += c
	}
	h.Total += o.Total
	h.Sum += o.Sum
}

// Mean returns Sum/Total, 0 when empty.
func (h *Histogram) Mean() time.Duration {
	if h.Total == 0 {
		return 0
	}
	return h.Sum / time.Duration(h.Total)
}

// Quantile returns the q-quantile (0 ≤ q ≤ 1), 0 when empty. q is clamped to
// [0, 1]. It finds the bucket holding rank q×Total and interpolates linearly
// inside it, assuming observations are spread evenly across the bucket; a
// quantile in the overflow bucket is reported as 100s.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.Total == 0 {
		return 0
	}
	switch {
	case q < 0 || math.IsNaN(q):
		q = 0
	case q > 1:
		q = 1
	}
	rank := q * float64(h.Total)
	var cum float64
	for i, c := range h.Counts {
		if c == 0 {
			continue
		}
		prev := cum
		cum += float64(c)
		if cum < rank {
			continue
		}
		lower := bucketLower(i)
		if i == NumBuckets-1 {
			return lower
		}
		frac := (rank - prev) / float64(c)
		return lower + time.Duration(math.Round(frac*float64(uppers[i]-lower)))
	}
	// Only reached when Counts and Total disagree (a hand-built value).
	for i := NumBuckets - 1; i >= 0; i-- {
		if h.Counts[i] != 0 {
			return min(BucketUpper(i), uppers[lastFinite])
		}
	}
	return 0
}
