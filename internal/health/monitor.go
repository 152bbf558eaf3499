package health

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// MonitorOptions configures a Monitor.
type MonitorOptions struct {
	// Logger receives transitions (default: discard).
	Logger *slog.Logger
	// OnChange, when set, is called on every transition of a watched
	// target: healthy→unhealthy after UnhealthyThreshold consecutive failed
	// probes, unhealthy→healthy after HealthyThreshold consecutive
	// successes. r is the probe that completed the transition. It is
	// called from the target's own goroutine, without any Monitor lock
	// held, one call at a time per watch; it should return quickly. It may
	// call the Monitor's methods except Close.
	OnChange func(targetID string, healthy bool, r Result)
}

// Monitor keeps probing live targets, each from its own goroutine, and
// tracks whether each is healthy. It is safe for concurrent use. Close stops
// every goroutine it started.
type Monitor struct {
	log      *slog.Logger
	onChange func(string, bool, Result)
	probe    prober

	mu      sync.Mutex
	watches map[string]*watch
	closed  bool
	wg      sync.WaitGroup
}

// watch is one target being monitored. Fields below mu-guarded are guarded
// by Monitor.mu.
type watch struct {
	id, addr string
	check    Check
	cancel   context.CancelFunc

	healthy  bool
	last     Result
	probed   bool
	streak   int  // consecutive probes with the same outcome
	streakOK bool // outcome of the streak
}

// NewMonitor returns a Monitor with no targets.
func NewMonitor(opts MonitorOptions) *Monitor {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Monitor{
		log:      log,
		onChange: opts.OnChange,
		probe:    Probe,
		watches:  make(map[string]*watch),
	}
}

// Watch starts probing addr with c (defaults applied) under targetID, which
// starts healthy or not as initiallyHealthy says (true for a target that just
// passed its Gate). The first probe runs at once, then every Interval after
// the previous one ended. A watch already registered under targetID is
// replaced: its state is dropped and it reports no further transitions
// (except one already being delivered). Watch does nothing after Close; an
// invalid Check is logged and its target is reported unhealthy by probes.
func (m *Monitor) Watch(targetID, addr string, c Check, initiallyHealthy bool) {
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		m.log.Error("invalid health check", "target", targetID, "err", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	if old := m.watches[targetID]; old != nil {
		old.cancel()
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &watch{id: targetID, addr: addr, check: c, cancel: cancel, healthy: initiallyHealthy}
	m.watches[targetID] = w
	m.wg.Add(1)
	go m.run(ctx, w)
}

// Unwatch stops probing targetID and forgets it; it does nothing for an
// unknown target. It does not wait for the watch's goroutine, which ends
// at its next step (Close waits for all of them).
func (m *Monitor) Unwatch(targetID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if w := m.watches[targetID]; w != nil {
		w.cancel()
		delete(m.watches, targetID)
	}
}

// Healthy returns whether targetID is healthy, and whether it is watched.
func (m *Monitor) Healthy(targetID string) (healthy, known bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w := m.watches[targetID]
	if w == nil {
		return false, false
	}
	return w.healthy, true
}

// Last returns the latest probe result of targetID, with Attempts set to the
// current run of consecutive probes with the same outcome; false when the
// target is not watched or has not been probed yet.
func (m *Monitor) Last(targetID string) (Result, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w := m.watches[targetID]
	if w == nil || !w.probed {
		return Result{}, false
	}
	return w.last, true
}

// Close stops every watch and waits for their goroutines to end, including
// an OnChange call in progress. It is idempotent and always returns nil. It
// must not be called from OnChange.
func (m *Monitor) Close() error {
	m.mu.Lock()
	if !m.closed {
		m.closed = true
		for id, w := range m.watches {
			w.cancel()
			delete(m.watches, id)
		}
	}
	m.mu.Unlock()
	m.wg.Wait()
	return nil
}

// run probes w until its context ends.
func (m *Monitor) run(ctx context.Context, w *watch) {
	defer m.wg.Done()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		r := m.probe(ctx, w.check, w.addr)
		if ctx.Err() != nil {
			return
		}
		changed, r := m.record(w, r)
		if changed {
			m.notify(w, r)
		}
		timer.Reset(w.check.Interval)
	}
}

// record folds r into w's state and reports whether w changed state. It
// ignores a watch that was replaced or removed.
func (m *Monitor) record(w *watch, r Result) (bool, Result) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.watches[w.id] != w {
		return false, r
	}
	if w.probed && w.streakOK == r.Healthy {
		w.streak++
	} else {
		w.streak, w.streakOK = 1, r.Healthy
	}
	r.Attempts = w.streak
	w.last, w.probed = r, true
	switch {
	case w.healthy && !r.Healthy && w.streak >= w.check.UnhealthyThreshold:
		w.healthy = false
		return true, r
	case !w.healthy && r.Healthy && w.streak >= w.check.HealthyThreshold:
		w.healthy = true
		return true, r
	}
	return false, r
}

// notify logs a transition and calls OnChange.
func (m *Monitor) notify(w *watch, r Result) {
	if r.Healthy {
		m.log.Info("target healthy", "target", w.id, "addr", w.addr, "probes", r.Attempts)
	} else {
		m.log.Warn("target unhealthy", "target", w.id, "addr", w.addr, "probes", r.Attempts, "reason", r.Reason())
	}
	if m.onChange != nil {
		m.onChange(w.id, r.Healthy, r)
	}
}
