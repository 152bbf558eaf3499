package metrics

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketBoundaries(t *testing.T) {
	tests := []struct {
		bucket int
		upper  time.Duration
	}{
		{0, 8799 * time.Nanosecond},
		{2, 10 * time.Microsecond},
		{38, 100 * time.Microsecond},
		{74, time.Millisecond},
		{110, 10 * time.Millisecond},
		{146, 100 * time.Millisecond},
		{182, time.Second},
		{218, 10 * time.Second},
		{254, 100 * time.Second},
		{255, math.MaxInt64},
	}
	for _, tt := range tests {
		if got := BucketUpper(tt.bucket); got != tt.upper {
			t.Errorf("BucketUpper(%d) = %v, want %v", tt.bucket, got, tt.upper)
		}
	}
	for i := 1; i < NumBuckets; i++ {
		if BucketUpper(i) <= BucketUpper(i-1) {
			t.Fatalf("BucketUpper not increasing at %d: %v <= %v", i, BucketUpper(i), BucketUpper(i-1))
		}
	}
	// Width ratio between consecutive finite buckets is 10^(1/36).
	for i := 3; i <= lastFinite; i++ {
		ratio := float64(BucketUpper(i)) / float64(BucketUpper(i-1))
		if math.Abs(ratio-math.Pow(10, 1.0/36)) > 1e-3 {
			t.Fatalf("bucket %d ratio %v", i, ratio)
		}
	}
}

func TestBucketOf(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want int
	}{
		{-time.Second, 0},
		{0, 0},
		{time.Nanosecond, 0},
		{8799, 0},
		{8800, 1},
		{10 * time.Microsecond, 2},
		{10*time.Microsecond + 1, 3},
		{time.Millisecond, 74},
		{time.Millisecond + 1, 75},
		{time.Second, 182},
		{100 * time.Second, 254},
		{100*time.Second + 1, 255},
		{time.Hour, 255},
		{math.MaxInt64, 255},
	}
	for _, tt := range tests {
		if got := BucketOf(tt.d); got != tt.want {
			t.Errorf("BucketOf(%v) = %d, want %d", tt.d, got, tt.want)
		}
	}
	// BucketOf agrees with BucketUpper on every boundary.
	for i := 0; i <= lastFinite; i++ {
		u := BucketUpper(i)
		if got := BucketOf(u); got != i {
			t.Fatalf("BucketOf(BucketUpper(%d)) = %d", i, got)
		}
		if got := BucketOf(u + 1); got != i+1 {
			t.Fatalf("BucketOf(BucketUpper(%d)+1) = %d", i, got)
		}
	}
}

func TestQuantileSingleValueRelativeError(t *testing.T) {
	// One observation: the median is the bucket midpoint, within 3.3% of the value.
	for d := 10 * time.Microsecond; d <= 100*time.Second; d = d * 107 / 100 {
		var h Histogram
		h.Add(d)
		got := h.Quantile(0.5)
		if rel := math.Abs(float64(got-d)) / float64(d); rel > 0.034 {
			t.Fatalf("Quantile(0.5) of {%v} = %v, relative error %.4f", d, got, rel)
		}
	}
}

func TestQuantile(t *testing.T) {
	uniform := func(n int, lo, hi time.Duration) *Histogram {
		var h Histogram
		for i := range n {
			h.Add(lo + (hi-lo)*time.Duration(i)/time.Duration(n-1))
		}
		return &h
	}
	tests := []struct {
		name string
		h    *Histogram
		q    float64
		want time.Duration
		tol  float64 // relative
	}{
		{"empty", &Histogram{}, 0.5, 0, 0},
		{"uniform p50", uniform(10001, time.Millisecond, 100*time.Millisecond), 0.5, 50500 * time.Microsecond, 0.01},
		{"uniform p90", uniform(10001, time.Millisecond, 100*time.Millisecond), 0.9, 90100 * time.Microsecond, 0.01},
		{"uniform p99", uniform(10001, time.Millisecond, 100*time.Millisecond), 0.99, 99010 * time.Microsecond, 0.01},
		{"uniform p0", uniform(10001, time.Millisecond, 100*time.Millisecond), 0, time.Millisecond, 0.07},
		{"uniform p100", uniform(10001, time.Millisecond, 100*time.Millisecond), 1, 100 * time.Millisecond, 0.07},
		{"q above 1 clamps", uniform(101, time.Millisecond, 2*time.Millisecond), 7, 2 * time.Millisecond, 0.07},
		{"q below 0 clamps", uniform(101, time.Millisecond, 2*time.Millisecond), -1, time.Millisecond, 0.07},
		{"overflow", func() *Histogram { var h Histogram; h.Add(time.Hour); return &h }(), 0.5, 100 * time.Second, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.h.Quantile(tt.q)
			if tt.want == 0 {
				if got != 0 {
					t.Fatalf("got %v, want 0", got)
				}
				return
			}
			if rel := math.Abs(float64(got-tt.want)) / float64(tt.want); rel > tt.tol {
				t.Fatalf("Quantile(%v) = %v, want %v ±%.0f%%", tt.q, got, tt.want, tt.tol*100)
			}
		})
	}
}

func TestQuantileMatchesExactOnRandomData(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h Histogram
	vals := make([]time.Duration, 20000)
	for i := range vals {
		// Log-normal-ish latencies around 20ms.
		vals[i] = time.Duration(float64(20*time.Millisecond) * math.Exp(rng.NormFloat64()))
		h.Add(vals[i])
	}
	slices.Sort(vals)
	for _, q := range []float64{0.1, 0.5, 0.9, 0.99, 0.999} {
		exact := vals[int(q*float64(len(vals)-1))]
		got := h.Quantile(q)
		if rel := math.Abs(float64(got-exact)) / float64(exact); rel > 0.034 {
			t.Errorf("q=%v: got %v, exact %v (%.2f%%)", q, got, exact, rel*100)
		}
	}
}

func TestMergeAndMean(t *testing.T) {
	var a, b Histogram
	a.Add(time.Millisecond)
	a.Add(3 * time.Millisecond)
	b.Add(5 * time.Millisecond)
	a.Merge(&b)
	if a.Total != 3 || a.Sum != 9*time.Millisecond {
		t.Fatalf("after merge Total=%d Sum=%v", a.Total, a.Sum)
	}
	if a.Counts[BucketOf(5*time.Millisecond)] != 1 || a.Counts[BucketOf(time.Millisecond)] != 1 {
		t.Fatalf("merged counts wrong")
	}
	if got := a.Mean(); got != 3*time.Millisecond {
		t.Fatalf("Mean = %v", got)
	}
	if got := (&Histogram{}).Mean(); got != 0 {
		t.Fatalf("empty Mean = %v", got)
	}
}

func BenchmarkBucketOf(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	ds := make([]time.Duration, 1024)
	for i := range ds {
		ds[i] = time.Duration(float64(20*time.Millisecond) * math.Exp(2*rng.NormFloat64()))
	}
	var sink, i int
	for b.Loop() {
		sink += BucketOf(ds[i&1023])
		i++
	}
	_ = sink
}
