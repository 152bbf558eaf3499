package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// promBuckets are the upper bounds, in seconds, of the
// cutover_request_duration_seconds buckets.
//
// They are derived from the fine histogram: a fine bucket is counted in the
// first coarse bucket whose bound is at least the fine bucket's upper bound.
// Decade bounds (0.001, 0.01, 0.1, 1, 10) coincide with fine bucket
// boundaries and are exact; for the others, observations up to 6.6% below
// the bound may be counted in the next coarse bucket.
var promBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// coarseOf maps each fine bucket to its promBuckets index, or
// len(promBuckets) for +Inf only.
var coarseOf = func() [NumBuckets]int {
	var m [NumBuckets]int
	for i := range m {
		upper := BucketUpper(i)
		m[i] = len(promBuckets)
		for j, b := range promBuckets {
			if upper <= time.Duration(b*float64(time.Second)+0.5) {
				m[i] = j
				break
			}
		}
	}
	return m
}()

var (
	labels = []string{"service", "version"}

	descRequests = prometheus.NewDesc("cutover_requests_total",
		"Completed requests by status class (1xx..5xx); proxy-generated errors count as 5xx.",
		append(labels, "code_class"), nil)
	descConnErrors = prometheus.NewDesc("cutover_upstream_connection_errors_total",
		"Requests that failed to reach the upstream (also counted as 5xx).", labels, nil)
	descDuration = prometheus.NewDesc("cutover_request_duration_seconds",
		"Duration of completed requests, in seconds.", labels, nil)
	descInFlight = prometheus.NewDesc("cutover_requests_in_flight",
		"Requests currently being served.", labels, nil)

	classLabels = [numClasses]string{"1xx", "2xx", "3xx", "4xx", "5xx"}
)

// Collector returns a prometheus.Collector exporting every series of r:
// cutover_requests_total{service,version,code_class},
// cutover_upstream_connection_errors_total{service,version},
// cutover_request_duration_seconds{service,version} (histogram with bounds
// 1ms, 2.5ms, 5ms, 10ms, 25ms, 50ms, 100ms, 250ms, 500ms, 1s, 2.5s, 5s, 10s,
// 30s and 60s, derived from the fine histogram as described at promBuckets) and cutover_requests_in_flight{service,version}.
// Counters and the histogram are cumulative since the series was created.
func (r *Registry) Collector() prometheus.Collector { return collector{r} }

type collector struct{ r *Registry }

// Describe implements prometheus.Collector.
func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descRequests
	ch <- descConnErrors
	ch <- descDuration
	ch <- descInFlight
}

// Collect implements prometheus.Collector.
func (c collector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.r.all() {
		classes, conn, h := s.cumulative()
		for i, n := range classes {
			ch <- prometheus.MustNewConstMetric(descRequests, prometheus.CounterValue,
				float64(n), s.service, s.version, classLabels[i])
		}
		ch <- prometheus.MustNewConstMetric(descConnErrors, prometheus.CounterValue,
			float64(conn), s.service, s.version)
		ch <- prometheus.MustNewConstHistogram(descDuration, h.Total, h.Sum.Seconds(),
			coarseBuckets(&h), s.service, s.version)
		ch <- prometheus.MustNewConstMetric(descInFlight, prometheus.GaugeValue,
			float64(s.inFlight.Load()), s.service, s.version)
	}
}

// coarseBuckets folds h into cumulative promBuckets counts.
func coarseBuckets(h *Histogram) map[float64]uint64 {
	counts := make([]uint64, len(promBuckets)+1)
	for i, n := range h.Counts {
		counts[coarseOf[i]] += n
	}
	out := make(map[float64]uint64, len(promBuckets))
	var cum uint64
	for j, b := range promBuckets {
		cum += counts[j]
		out[b] = cum
	}
	return out
}
