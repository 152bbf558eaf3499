package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/cutover-dev/cutover/internal/coord"
	etcdstore "github.com/cutover-dev/cutover/internal/coord/etcd"
	"github.com/cutover-dev/cutover/internal/fleet"
)

// observer follows a fleet's deploy keys in etcd on its own connection
// and keeps, per deploy, what the hosts recorded: the committed state's
// time (stamped by the coordinator just before its commit transaction),
// every host's switched ack time, and the batch checks of the commit.
type observer struct {
	st     coord.Store
	prefix string // the fleet's deploys/ prefix
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	deploys map[string]*observed
	changed chan struct{}
}

// observed is one deploy as the store recorded it.
type observed struct {
	CommitAt time.Time            `json:"commit_at"`
	Acks     map[string]time.Time `json:"acks"`
	Checks   int                  `json:"checks"`
}

// ackRange returns the earliest and the latest switched ack.
func (o *observed) ackRange() (first, last time.Time) {
	for _, t := range o.Acks {
		if first.IsZero() || t.Before(first) {
			first = t
		}
		if t.After(last) {
			last = t
		}
	}
	return first, last
}

func startObserver(ctx context.Context, endpoint, prefix string) (*observer, error) {
	st, err := etcdstore.Open(ctx, etcdstore.Options{Endpoints: []string{endpoint}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(context.Background())
	o := &observer{st: st, prefix: prefix + "deploys/", cancel: cancel, done: make(chan struct{}),
		deploys: map[string]*observed{}, changed: make(chan struct{})}
	ch := st.Watch(wctx, o.prefix, 0)
	go func() {
		defer close(o.done)
		for resp := range ch {
			o.apply(resp.Events)
		}
	}()
	return o, nil
}

func (o *observer) close() {
	o.cancel()
	<-o.done
	_ = o.st.Close()
}

func (o *observer) apply(evs []coord.Event) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, ev := range evs {
		if ev.Type != coord.EventPut {
			continue
		}
		id, sub, _ := strings.Cut(strings.TrimPrefix(ev.KV.Key, o.prefix), "/")
		d := o.deploys[id]
		if d == nil {
			d = &observed{Acks: map[string]time.Time{}}
			o.deploys[id] = d
		}
		switch {
		case sub == "state":
			var st fleet.State
			if json.Unmarshal(ev.KV.Value, &st) == nil && st.Phase == fleet.PhaseCommitted {
				d.CommitAt = st.At
			}
		case strings.HasPrefix(sub, "switched/"):
			var ack fleet.Ack
			if json.Unmarshal(ev.KV.Value, &ack) == nil {
				d.Acks[strings.TrimPrefix(sub, "switched/")] = ack.At
			}
		case strings.HasPrefix(sub, "checked/"):
			d.Checks++
		}
	}
	close(o.changed)
	o.changed = make(chan struct{})
}

// wait returns deploy id's record once its commit and n switched acks
// were seen.
func (o *observer) wait(ctx context.Context, id string, n int) (observed, error) {
	t := time.NewTimer(30 * time.Second)
	defer t.Stop()
	for {
		o.mu.Lock()
		d, ch := o.deploys[id], o.changed
		var rec observed
		if d != nil {
			rec = observed{CommitAt: d.CommitAt, Checks: d.Checks, Acks: make(map[string]time.Time, len(d.Acks))}
			for h, at := range d.Acks {
				rec.Acks[h] = at
			}
		}
		o.mu.Unlock()
		if !rec.CommitAt.IsZero() && len(rec.Acks) >= n {
			return rec, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return rec, ctx.Err()
		case <-t.C:
			return rec, fmt.Errorf("deploy %s: the store shows commit %v and %d of %d switched acks after 30s", id, rec.CommitAt, len(rec.Acks), n)
		}
	}
}
