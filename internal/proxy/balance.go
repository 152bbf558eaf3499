package proxy

import (
	"log/slog"
	"sync/atomic"

	"github.com/cutover-dev/cutover/internal/metrics"
)

// Balance selects how requests are spread over the targets of one set.
type Balance int

// Balance values.
const (
	// RoundRobin sends requests to the targets in turn.
	RoundRobin Balance = iota
	// LeastInFlight sends each request to the target with the fewest requests in flight.
	LeastInFlight
)

// String returns "round_robin" or "least_inflight".
func (b Balance) String() string {
	switch b {
	case RoundRobin:
		return "round_robin"
	case LeastInFlight:
		return "least_inflight"
	}
	return "unknown"
}

// setState is the state of one service version that outlives table
// versions: whether it is failing open.
type setState struct {
	failOpen atomic.Bool
}

// targetSet is the immutable (apart from counters) form of a Set inside one
// routing table.
type targetSet struct {
	version string
	targets []*target
	balance Balance
	rr      atomic.Uint64
	series  *metrics.Series
	state   *setState
	service string
	log     *slog.Logger
}

// pick chooses a target not in tried, counts it in flight and returns it
// with its index. It prefers usable targets; when none is usable it fails
// open and picks among targets that are merely unhealthy or ejected. It
// returns nil when every remaining target is draining.
func (s *targetSet) pick(tried uint64) (*target, int) {
	n := len(s.targets)
	for attempt := 0; attempt <= n; attempt++ {
		t, i := s.choose(tried)
		if t == nil {
			return nil, -1
		}
		if t.acquire() {
			return t, i
		}
		tried |= 1 << uint(i)
	}
	return nil, -1
}

// choose selects a target index without counting it.
func (s *targetSet) choose(tried uint64) (*target, int) {
	n := len(s.targets)
	if n == 0 {
		return nil, -1
	}
	start := int(s.rr.Add(1) % uint64(n))
	best, bestIdx := (*target)(nil), -1
	var bestLoad int64
	anyUsable := false
	for k := 0; k < n; k++ {
		i := start + k
		if i >= n {
			i -= n
		}
		t := s.targets[i]
		if !t.usable() {
			continue
		}
		anyUsable = true
		if tried&(1<<uint(i)) != 0 {
			continue
		}
		if s.balance == RoundRobin {
			best, bestIdx = t, i
			break
		}
		load := t.inflight.Load()
		if best == nil || load < bestLoad {
			best, bestIdx, bestLoad = t, i, load
		}
	}
	if anyUsable {
		if s.state.failOpen.Load() && s.state.failOpen.CompareAndSwap(true, false) {
			s.log.Info("set recovered from fail-open", "service", s.service, "version", s.version)
		}
		if best != nil {
			return best, bestIdx
		}
	} else if !s.state.failOpen.Load() && s.hasLive() && s.state.failOpen.CompareAndSwap(false, true) {
		s.log.Warn("no healthy target in set, failing open", "service", s.service, "version", s.version)
	}
	// Fail open: any target that is not draining and not yet tried.
	for k := 0; k < n; k++ {
		i := start + k
		if i >= n {
			i -= n
		}
		t := s.targets[i]
		if tried&(1<<uint(i)) == 0 && !t.draining.Load() {
			return t, i
		}
	}
	return nil, -1
}

// hasLive reports whether some target of the set is not draining.
func (s *targetSet) hasLive() bool {
	for _, t := range s.targets {
		if !t.draining.Load() {
			return true
		}
	}
	return false
}

// isFailOpen reports whether the set currently has no usable target but
// still has targets that are not draining.
func (s *targetSet) isFailOpen() bool {
	for _, t := range s.targets {
		if t.usable() {
			return false
		}
	}
	return s.hasLive()
}
