package health

import (
	"context"
	"sync"
	"time"
)

// scriptProber answers probes from a script of outcomes (the last one
// repeats) and records when each probe started. Each probe takes took of
// (fake) time.
type scriptProber struct {
	mu     sync.Mutex
	script []bool
	took   time.Duration
	calls  []time.Time
}

func (p *scriptProber) probe(ctx context.Context, c Check, addr string) Result {
	p.mu.Lock()
	n := len(p.calls)
	p.calls = append(p.calls, time.Now())
	ok := p.script[min(n, len(p.script)-1)]
	p.mu.Unlock()
	if p.took > 0 {
		select {
		case <-time.After(p.took):
		case <-ctx.Done():
			return Result{Attempts: 1, Err: "canceled"}
		}
	}
	if ok {
		return Result{Healthy: true, Attempts: 1, Status: 200}
	}
	return Result{Attempts: 1, Status: 503, Body: "down"}
}

func (p *scriptProber) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.calls)
}

// switchProber answers with a settable outcome.
type switchProber struct {
	mu    sync.Mutex
	ok    bool
	calls int
}

func (p *switchProber) set(ok bool) {
	p.mu.Lock()
	p.ok = ok
	p.mu.Unlock()
}

func (p *switchProber) probe(ctx context.Context, c Check, addr string) Result {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	if p.ok {
		return Result{Healthy: true, Attempts: 1, Status: 200}
	}
	return Result{Attempts: 1, Status: 500, Body: "boom"}
}
