// Package metrics keeps per-service, per-version request metrics in process:
// counts by status class, connection errors, a latency histogram and
// in-flight gauges, in one-second slots over a retention window, readable as
// a Snapshot over any recent window and exportable to Prometheus.
//
// The hot path (Series.Observe) takes no lock and, once the ring has been
// filled, does not allocate; it costs tens of nanoseconds per call
// (BenchmarkObserveParallel).
//
// A connection error is recorded by the caller as a request answered with
// the status the proxy sent (502 or 504) and connErr set: it counts in
// Requests, Status5xx and ConnErrors.
package metrics

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultRetention is the default Options.Retention.
const DefaultRetention = 15 * time.Minute

// Options configures a Registry.
type Options struct {
	// Retention is how long per-second slots are kept (default 15m). It is
	// rounded up to whole seconds.
	Retention time.Duration
	// Now returns the current time (default time.Now); tests may replace it.
	Now func() time.Time
}

// clock turns times into ticks: whole seconds since the registry's epoch.
// Times carrying a monotonic reading (from time.Now) are compared on the
// monotonic clock, so a wall-clock step does not scramble the ring.
type clock struct {
	now   func() time.Time
	epoch time.Time
}

// tick returns the slot number of t, never negative.
func (c *clock) tick(t time.Time) int64 {
	d := t.Sub(c.epoch)
	if d < 0 {
		return 0
	}
	return int64(d / time.Second)
}

type seriesKey struct{ service, version string }

// Registry holds all series. It is safe for concurrent use.
type Registry struct {
	clock *clock
	slots int

	mu     sync.RWMutex
	series map[seriesKey]*Series
}

// NewRegistry returns an empty registry. A Retention ≤ 0 means the default
// (15m); a nil Now means time.Now.
func NewRegistry(opts Options) *Registry {
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Registry{
		clock:  &clock{now: opts.Now, epoch: opts.Now()},
		slots:  int((opts.Retention + time.Second - 1) / time.Second),
		series: make(map[seriesKey]*Series),
	}
}

// Retention returns how long per-second data is kept.
func (r *Registry) Retention() time.Duration { return time.Duration(r.slots) * time.Second }

// Series returns the series of one service version, creating it on first use.
// Callers on the hot path keep the *Series and call Observe on it.
func (r *Registry) Series(service, version string) *Series {
	k := seriesKey{service, version}
	r.mu.RLock()
	s := r.series[k]
	r.mu.RUnlock()
	if s != nil {
		return s
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if s = r.series[k]; s == nil {
		s = newSeries(service, version, r.clock, r.slots)
		r.series[k] = s
	}
	return s
}

// lookup returns the series of service/version or nil.
func (r *Registry) lookup(service, version string) *Series {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.series[seriesKey{service, version}]
}

// Remove forgets the series of service/version, for a version that will not
// serve again. A *Series still held by a caller keeps working but is no
// longer reported; a later call to Series starts a new, empty one.
func (r *Registry) Remove(service, version string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.series, seriesKey{service, version})
}

// Snapshot returns the stats of service/version over the last window (see
// Series.Snapshot). An unknown series yields empty Stats.
func (r *Registry) Snapshot(service, version string, window time.Duration) Stats {
	if s := r.lookup(service, version); s != nil {
		return s.Snapshot(window)
	}
	if window <= 0 || window > r.Retention() {
		window = r.Retention()
	}
	now := r.clock.now()
	return Stats{Service: service, Version: version, From: now.Add(-window), To: now}
}

// SnapshotSince returns the stats of service/version from since until now
// (see Series.SnapshotSince). An unknown series yields empty Stats.
func (r *Registry) SnapshotSince(service, version string, since time.Time) Stats {
	if s := r.lookup(service, version); s != nil {
		return s.SnapshotSince(since)
	}
	return Stats{Service: service, Version: version, From: since, To: r.clock.now()}
}

// Versions returns the versions with a series for service, sorted.
func (r *Registry) Versions(service string) []string {
	r.mu.RLock()
	var vs []string
	for k := range r.series {
		if k.service == service {
			vs = append(vs, k.version)
		}
	}
	r.mu.RUnlock()
	slices.Sort(vs)
	return vs
}

// all returns every series sorted by service, then version.
func (r *Registry) all() []*Series {
	r.mu.RLock()
	ss := make([]*Series, 0, len(r.series))
	for _, s := range r.series {
		ss = append(ss, s)
	}
	r.mu.RUnlock()
	slices.SortFunc(ss, func(a, b *Series) int {
		return cmp.Or(strings.Compare(a.service, b.service), strings.Compare(a.version, b.version))
	})
	return ss
}
