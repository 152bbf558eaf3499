package proxy

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrDrainCanceled reports a drain ended because the target was listed in
// the routing table again.
var ErrDrainCanceled = errors.New("drain canceled: target listed again")

// cutGrace bounds how long Drain waits, after cutting the remaining
// requests at the deadline, for them to finish ending.
const cutGrace = 5 * time.Second

// drainPoll is the fallback interval at which Drain re-reads the in-flight
// count (the count reaching zero also wakes it directly).
const drainPoll = 20 * time.Millisecond

// DrainResult reports how a drain ended.
type DrainResult struct {
	// Waited is how long Drain waited for in-flight requests to finish,
	// up to the timeout.
	Waited time.Duration
	// Cut is the number of requests still in flight at the deadline that
	// were ended by the proxy.
	Cut int
}

// Drain stops new requests reaching the target, even while a routing table
// still lists it, and waits until its in-flight count is zero or timeout
// has passed. At the deadline it ends the remaining requests cleanly: a
// streaming response is closed, a WebSocket gets a close frame (1001, going
// away) toward the client and its upstream connection is closed, a request
// still waiting for its response gets 504. It then closes the target's idle
// upstream connections. A drained target no longer listed in the routing
// table is forgotten; listing a draining target again (for example on
// rollback) cancels the drain and Drain returns ErrDrainCanceled.
//
// If ctx ends first Drain returns ctx's error; the target stays drained.
func (p *Proxy) Drain(ctx context.Context, targetID string, timeout time.Duration) (DrainResult, error) {
	p.mu.Lock()
	t := p.targets[targetID]
	if t == nil {
		p.mu.Unlock()
		return DrainResult{}, fmt.Errorf("%w: %q", ErrUnknownTarget, targetID)
	}
	if t.drainCancel == nil {
		t.drainCancel = make(chan struct{})
		t.drainDone = false
	}
	canceled := t.drainCancel
	t.draining.Store(true)
	p.mu.Unlock()
	p.log.Info("drain started", "target", targetID, "inflight", t.inflight.Load(), "timeout", timeout)

	start := time.Now()
	var res DrainResult
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(drainPoll)
	defer tick.Stop()
wait:
	for t.inflight.Load() > 0 {
		select {
		case <-t.idle:
		case <-tick.C:
		case <-deadline.C:
			break wait
		case <-canceled:
			return DrainResult{Waited: time.Since(start)}, ErrDrainCanceled
		case <-ctx.Done():
			return DrainResult{Waited: time.Since(start)}, ctx.Err()
		}
	}
	res.Waited = time.Since(start)

	if n := t.inflight.Load(); n > 0 {
		res.Cut = int(n)
		p.log.Warn("drain deadline reached, ending requests", "target", targetID, "requests", n, "reason", "drain timeout")
		t.cutting.Store(true)
		t.cutConns()
		if err := waitIdle(ctx, t, canceled, cutGrace); err != nil {
			return res, err
		}
	}
	t.closeIdle()

	p.mu.Lock()
	if t.drainCancel == canceled {
		t.drainDone = true
		if !p.table.Load().referenced()[targetID] && p.targets[targetID] == t {
			delete(p.targets, targetID)
		}
	}
	p.mu.Unlock()
	p.log.Info("drain finished", "target", targetID, "waited", res.Waited, "cut", res.Cut)
	return res, nil
}

// waitIdle waits up to grace for t's in-flight count to reach zero.
func waitIdle(ctx context.Context, t *target, canceled <-chan struct{}, grace time.Duration) error {
	timer := time.NewTimer(grace)
	defer timer.Stop()
	tick := time.NewTicker(drainPoll)
	defer tick.Stop()
	for t.inflight.Load() > 0 {
		select {
		case <-t.idle:
		case <-tick.C:
		case <-timer.C:
			return nil
		case <-canceled:
			return ErrDrainCanceled
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// undrainLocked cancels a drain because the target is listed again.
// Callers hold p.mu.
func (p *Proxy) undrainLocked(t *target) {
	if t.drainCancel != nil {
		close(t.drainCancel)
		t.drainCancel = nil
	}
	t.drainDone = false
	t.cutting.Store(false)
	t.draining.Store(false)
	p.log.Info("drain canceled, target listed again", "target", t.id)
}
