package metrics

import (
	"sync/atomic"
	"time"
)

// numClasses is the number of status classes, 1xx..5xx.
const numClasses = 5

// resetting stamps a slot that one goroutine is zeroing for a new second.
const resetting = -1

// slot holds one second of observations. Its counters are atomics so that
// Observe can update them without a lock; per-second counts fit in 32 bits.
type slot struct {
	// sec is the tick (see clock) the slot holds, or resetting.
	sec     atomic.Int64
	classes [numClasses]atomic.Uint32
	conn    atomic.Uint32
	sum     atomic.Int64
	counts  [NumBuckets]atomic.Uint32
}

// reset zeroes every counter. The caller owns the slot (its stamp is resetting).
func (sl *slot) reset() {
	for i := range sl.classes {
		sl.classes[i].Store(0)
	}
	sl.conn.Store(0)
	sl.sum.Store(0)
	for i := range sl.counts {
		sl.counts[i].Store(0)
	}
}

// addTo adds the slot into st when its tick is within [lo, hi]. A slot that
// is reset while being read is skipped, so a reader never mixes two seconds.
func (sl *slot) addTo(st *Stats, lo, hi int64) {
	sec := sl.sec.Load()
	if sec < lo || sec > hi {
		return
	}
	var (
		classes [numClasses]int64
		h       Histogram
	)
	for i := range sl.classes {
		classes[i] = int64(sl.classes[i].Load())
	}
	conn := int64(sl.conn.Load())
	h.Sum = time.Duration(sl.sum.Load())
	for i := range sl.counts {
		c := uint64(sl.counts[i].Load())
		h.Counts[i] = c
		h.Total += c
	}
	if sl.sec.Load() != sec {
		return
	}
	st.addClasses(classes)
	st.ConnErrors += conn
	st.Latency.Merge(&h)
}

// Series is the metrics of one service version. Its methods are safe for
// concurrent use.
//
// A Series keeps a ring of one-second slots covering the registry's
// Retention, filled by Observe and read by Snapshot, plus cumulative counters
// since the series was created, read by the Prometheus collector.
//
// Observe is lock-free and, once every slot of the ring has been used (that
// is, after the first Retention of traffic), allocation-free: a slot is
// allocated the first time its position in the ring is needed and reused,
// zeroed in place, from then on. Reuse is claimed by one goroutine with a
// compare-and-swap on the slot's second stamp. Observations that race with
// that reset, at the boundary between two seconds, may be lost or be counted
// in the new second; the cumulative (Prometheus) counters are exact.
type Series struct {
	service, version string
	clock            *clock
	ring             []atomic.Pointer[slot]

	inFlight atomic.Int64

	// Cumulative counters since creation.
	cumClasses [numClasses]atomic.Uint64
	cumConn    atomic.Uint64
	cumSum     atomic.Int64
	cumCounts  [NumBuckets]atomic.Uint64
}

func newSeries(service, version string, c *clock, slots int) *Series {
	return &Series{
		service: service,
		version: version,
		clock:   c,
		ring:    make([]atomic.Pointer[slot], slots),
	}
}

// Service returns the service name of s.
func (s *Series) Service() string { return s.service }

// Version returns the version of s.
func (s *Series) Version() string { return s.version }

// Observe records one completed request with its response status and
// duration. connErr marks a request that never reached the upstream; the
// caller passes the status it answered with (502 or 504), so a connection
// error is counted both in ConnErrors and in Status5xx. A status outside
// 100..599 (such as 0) is counted as 5xx; a negative duration as 0.
func (s *Series) Observe(status int, connErr bool, d time.Duration) {
	d = max(d, 0)
	class := classOf(status)
	bucket := BucketOf(d)

	sl := s.slotFor(s.clock.tick(s.clock.now()))
	sl.classes[class].Add(1)
	sl.counts[bucket].Add(1)
	sl.sum.Add(int64(d))

	s.cumClasses[class].Add(1)
	s.cumCounts[bucket].Add(1)
	s.cumSum.Add(int64(d))
	if connErr {
		sl.conn.Add(1)
		s.cumConn.Add(1)
	}
}

// slotFor returns the slot for tick sec, claiming and zeroing a slot that
// still holds an older second.
func (s *Series) slotFor(sec int64) *slot {
	p := &s.ring[sec%int64(len(s.ring))]
	for {
		sl := p.Load()
		if sl == nil {
			fresh := new(slot)
			fresh.sec.Store(sec)
			if p.CompareAndSwap(nil, fresh) {
				return fresh
			}
			continue
		}
		st := sl.sec.Load()
		switch {
		case st == sec:
			return sl
		case st == resetting:
			// Another goroutine is zeroing the slot for a new second: count
			// there; the zeroing may erase this observation.
			return sl
		case st < sec:
			if sl.sec.CompareAndSwap(st, resetting) {
				sl.reset()
				sl.sec.Store(sec)
				return sl
			}
		default:
			// The slot already holds a later second: this observation's
			// clock reading is stale by a whole ring. Count it there.
			return sl
		}
	}
}

// AddInFlight moves the in-flight gauge by delta: +1 when a request starts,
// -1 when it ends.
func (s *Series) AddInFlight(delta int64) { s.inFlight.Add(delta) }

// InFlight returns the current in-flight gauge.
func (s *Series) InFlight() int64 { return s.inFlight.Load() }

// Snapshot returns the stats of the last window, which is rounded up to whole
// seconds and includes the current, partial second; a window ≤ 0 or longer
// than Retention means the whole Retention.
func (s *Series) Snapshot(window time.Duration) Stats {
	retention := time.Duration(len(s.ring)) * time.Second
	if window <= 0 || window > retention {
		window = retention
	}
	now := s.clock.now()
	hi := s.clock.tick(now)
	n := int64((window + time.Second - 1) / time.Second)
	return s.collect(now.Add(-window), now, hi-n+1, hi)
}

// SnapshotSince returns the stats from since until now. The resolution is
// one second: the whole second containing since is included. Data older than
// Retention is gone, so since is effectively clamped to now − Retention.
func (s *Series) SnapshotSince(since time.Time) Stats {
	now := s.clock.now()
	hi := s.clock.tick(now)
	lo := max(s.clock.tick(since), hi-int64(len(s.ring))+1)
	return s.collect(since, now, lo, hi)
}

func (s *Series) collect(from, to time.Time, lo, hi int64) Stats {
	st := Stats{Service: s.service, Version: s.version, From: from, To: to, InFlight: s.inFlight.Load()}
	lo = max(lo, 0)
	for i := range s.ring {
		if sl := s.ring[i].Load(); sl != nil {
			sl.addTo(&st, lo, hi)
		}
	}
	return st
}

// cumulative returns the counters since creation.
func (s *Series) cumulative() (classes [numClasses]uint64, conn uint64, h Histogram) {
	for i := range s.cumClasses {
		classes[i] = s.cumClasses[i].Load()
	}
	conn = s.cumConn.Load()
	h.Sum = time.Duration(s.cumSum.Load())
	for i := range s.cumCounts {
		c := s.cumCounts[i].Load()
		h.Counts[i] = c
		h.Total += c
	}
	return classes, conn, h
}

// classOf maps a status code to its class index 0..4 (1xx..5xx); anything
// outside 100..599 is a 5xx.
func classOf(status int) int {
	if status < 100 || status > 599 {
		return numClasses - 1
	}
	return status/100 - 1
}
