// Package metrics keeps per-service, per-version request metrics in process:
// counts by status class, connection errors, a latency histogram and
// in-flight gauges, in one-second slots over a retention window, readable as
// a Snapshot over any recent window and exportable to Prometheus.
//
// The hot path (Series.Observe) takes no lock and does not allocate.
package metrics

import (
	"time"
)

// Histogram is a latency histogram with fixed log-linear buckets (relative
// error ≤ ~3% from 10µs to 100s). The zero value is empty and ready to use.
type Histogram struct {
	// Counts[i] is the number of observations in bucket i (see BucketUpper).
	Counts [NumBuckets]uint64
	// Total is the number of observations.
	Total uint64
	// Sum is the sum of observations.
	Sum time.Duration
}

// NumBuckets is the number of histogram buckets.
const NumBuckets = 256

// BucketUpper returns the inclusive upper bound of bucket i.
func BucketUpper(i int) time.Duration { panic("TODO") }

// BucketOf returns the bucket index of d.
func BucketOf(d time.Duration) int { panic("TODO") }

// Add records one observation.
func (h *Histogram) Add(d time.Duration) { panic("TODO") }

// Merge adds o's counts into h.
func (h *Histogram) Merge(o *Histogram) { panic("TODO") }

// Quantile returns the q-quantile (0 ≤ q ≤ 1), 0 when empty.
func (h *Histogram) Quantile(q float64) time.Duration { panic("TODO") }

// Stats is a snapshot of one service version over a window.
type Stats struct {
	Service, Version string
	From, To         time.Time
	// Requests counts completed requests including errors.
	Requests int64
	// Status1xx..Status5xx count responses by class (proxy-generated 502/503/504 count as 5xx).
	Status1xx, Status2xx, Status3xx, Status4xx, Status5xx int64
	// ConnErrors counts requests that failed to reach the upstream (also counted in Status5xx).
	ConnErrors int64
	// InFlight is the current in-flight gauge.
	InFlight int64
	// Latency is the latency histogram of completed requests.
	Latency Histogram
}

// ErrorRate returns Status5xx/Requests (0 when no requests).
func (s Stats) ErrorRate() float64 { panic("TODO") }

// Options configures a Registry.
type Options struct {
	// Retention is how long per-second slots are kept (default 15m).
	Retention time.Duration
	// Now returns the current time (default time.Now); tests may replace it.
	Now func() time.Time
}

// Registry holds all series. It is safe for concurrent use.
type Registry struct{}

// NewRegistry returns an empty registry.
func NewRegistry(opts Options) *Registry { panic("TODO") }

// Series returns the series of one service version, creating it on first use.
// Callers on the hot path keep the *Series and call Observe on it.
func (r *Registry) Series(service, version string) *Series { panic("TODO") }

// Snapshot returns the stats of service/version over the last window.
func (r *Registry) Snapshot(service, version string, window time.Duration) Stats { panic("TODO") }

// SnapshotSince returns the stats of service/version from since until now.
func (r *Registry) SnapshotSince(service, version string, since time.Time) Stats { panic("TODO") }

// Versions returns the versions with a series for service.
func (r *Registry) Versions(service string) []string { panic("TODO") }

// Series is the metrics of one service version. Its methods are safe for concurrent use.
type Series struct{}

// Observe records one completed request. connErr marks a request that never reached the upstream.
func (s *Series) Observe(status int, connErr bool, d time.Duration) { panic("TODO") }

// AddInFlight moves the in-flight gauge by delta.
func (s *Series) AddInFlight(delta int64) { panic("TODO") }
