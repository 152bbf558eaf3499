package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/cutover-dev/cutover/internal/deploy"
)

// publishes follows every host's event stream and keeps, per fleet
// deploy, when each host's controller published the new routing table:
// the time of its "switch" step event, emitted right after the atomic
// swap (the one that carries switch_us).
type publishes struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	at      map[string]map[string]time.Time // op id → host → publish time
	changed chan struct{}
}

func followPublishes(hosts []*host) (*publishes, error) {
	ctx, cancel := context.WithCancel(context.Background())
	p := &publishes{cancel: cancel, at: map[string]map[string]time.Time{}, changed: make(chan struct{})}
	for _, h := range hosts {
		es, err := h.api.Events(ctx, service, "")
		if err != nil {
			p.stop()
			return nil, fmt.Errorf("%s: events: %w", h.name, err)
		}
		p.wg.Go(func() {
			defer es.Close()
			for {
				ev, err := es.Next()
				if err != nil {
					return
				}
				if ev.Step == "switch" && ev.Type == deploy.EventStep && ev.Data["switch_us"] != nil {
					p.add(ev.OpID, h.name, ev.Time)
				}
			}
		})
	}
	return p, nil
}

func (p *publishes) add(op, host string, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.at[op] == nil {
		p.at[op] = map[string]time.Time{}
	}
	p.at[op][host] = at
	close(p.changed)
	p.changed = make(chan struct{})
}

// wait returns the earliest and latest publish time of op once n hosts
// published it.
func (p *publishes) wait(ctx context.Context, op string, n int) (first, last time.Time, err error) {
	t := time.NewTimer(30 * time.Second)
	defer t.Stop()
	for {
		p.mu.Lock()
		got, ch := len(p.at[op]), p.changed
		if got >= n {
			for _, at := range p.at[op] {
				if first.IsZero() || at.Before(first) {
					first = at
				}
				if at.After(last) {
					last = at
				}
			}
		}
		p.mu.Unlock()
		if got >= n {
			return first, last, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return first, last, ctx.Err()
		case <-t.C:
			return first, last, fmt.Errorf("deploy %s: %d of %d hosts reported publishing its routing after 30s", op, got, n)
		}
	}
}

func (p *publishes) stop() {
	p.cancel()
	p.wg.Wait()
}
