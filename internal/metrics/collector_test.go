package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestCollectorOutput(t *testing.T) {
	r, c := newTestRegistry(10 * time.Second)
	s := r.Series("web", "v2")
	s.Observe(200, false, 2*time.Millisecond)  // le 0.0025
	s.Observe(200, false, time.Millisecond)    // le 0.001 exactly (decade bound is exact)
	s.Observe(404, false, 40*time.Millisecond) // le 0.05
	s.Observe(502, true, 500*time.Millisecond) // its fine bucket straddles 0.5s: counted at le 1
	s.Observe(200, false, 2*time.Minute)       // +Inf only
	s.AddInFlight(3)
	r.Series("api", "v1").Observe(301, false, 3*time.Second)
	// Cumulative counters survive the ring's retention.
	c.Advance(time.Hour)
	if got := r.Snapshot("web", "v2", 0).Requests; got != 0 {
		t.Fatalf("windowed Requests after retention = %d", got)
	}

	want := `
# HELP cutover_requests_in_flight Requests currently being served.
# TYPE cutover_requests_in_flight gauge
cutover_requests_in_flight{service="api",version="v1"} 0
cutover_requests_in_flight{service="web",version="v2"} 3
# HELP cutover_requests_total Completed requests by status class (1xx..5xx); proxy-generated errors count as 5xx.
# TYPE cutover_requests_total counter
cutover_requests_total{code_class="1xx",service="api",version="v1"} 0
cutover_requests_total{code_class="2xx",service="api",version="v1"} 0
cutover_requests_total{code_class="3xx",service="api",version="v1"} 1
cutover_requests_total{code_class="4xx",service="api",version="v1"} 0
cutover_requests_total{code_class="5xx",service="api",version="v1"} 0
cutover_requests_total{code_class="1xx",service="web",version="v2"} 0
cutover_requests_total{code_class="2xx",service="web",version="v2"} 3
cutover_requests_total{code_class="3xx",service="web",version="v2"} 0
cutover_requests_total{code_class="4xx",service="web",version="v2"} 1
cutover_requests_total{code_class="5xx",service="web",version="v2"} 1
# HELP cutover_upstream_connection_errors_total Requests that failed to reach the upstream (also counted as 5xx).
# TYPE cutover_upstream_connection_errors_total counter
cutover_upstream_connection_errors_total{service="api",version="v1"} 0
cutover_upstream_connection_errors_total{service="web",version="v2"} 1
`
	err := testutil.CollectAndCompare(r.Collector(), strings.NewReader(want),
		"cutover_requests_total", "cutover_upstream_connection_errors_total", "cutover_requests_in_flight")
	if err != nil {
		t.Fatal(err)
	}

	// The histogram, read through a real registry gather.
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(r.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, mf := range mfs {
		if mf.GetName() != "cutover_request_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() != "web" {
				continue
			}
			found = true
			h := m.GetHistogram()
			if h.GetSampleCount() != 5 {
				t.Errorf("count = %d", h.GetSampleCount())
			}
			wantSum := (2*time.Millisecond + time.Millisecond + 40*time.Millisecond + 500*time.Millisecond + 2*time.Minute).Seconds()
			if d := h.GetSampleSum() - wantSum; d > 1e-9 || d < -1e-9 {
				t.Errorf("sum = %v, want %v", h.GetSampleSum(), wantSum)
			}
			wantCum := map[float64]uint64{0.001: 1, 0.0025: 2, 0.005: 2, 0.01: 2, 0.025: 2, 0.05: 3, 0.1: 3,
				0.25: 3, 0.5: 3, 1: 4, 2.5: 4, 5: 4, 10: 4, 30: 4, 60: 4}
			if len(h.GetBucket()) != len(wantCum) {
				t.Errorf("%d buckets", len(h.GetBucket()))
			}
			for _, b := range h.GetBucket() {
				if w := wantCum[b.GetUpperBound()]; b.GetCumulativeCount() != w {
					t.Errorf("le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), w)
				}
			}
		}
	}
	if !found {
		t.Fatal("no cutover_request_duration_seconds for web")
	}
}

func TestCoarseMappingNeverCountsBelowValue(t *testing.T) {
	// A value is never counted in a coarse bucket whose bound is below it.
	for i := range NumBuckets {
		j := coarseOf[i]
		if j < len(promBuckets) && BucketUpper(i) > time.Duration(promBuckets[j]*float64(time.Second)+0.5) {
			t.Fatalf("fine bucket %d (upper %v) mapped to le=%v", i, BucketUpper(i), promBuckets[j])
		}
		// ... and is counted in the first coarse bucket that can hold the whole fine bucket.
		if j > 0 && BucketUpper(i) <= time.Duration(promBuckets[j-1]*float64(time.Second)+0.5) {
			t.Fatalf("fine bucket %d (upper %v) fits le=%v but mapped to index %d", i, BucketUpper(i), promBuckets[j-1], j)
		}
	}
}
