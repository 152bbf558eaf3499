package fleet

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/cutover-dev/cutover/internal/coord"
)

// view is a process's mirror of every key under the fleet prefix, kept
// level-triggered: list, then watch from the revision of the list; on a
// compacted or lost watch, list again. Readers wait on changes.
type view struct {
	st     coord.Store
	prefix string
	log    *slog.Logger

	mu      sync.Mutex
	kvs     map[string]coord.KV
	rev     int64
	synced  bool          // a list succeeded and its watch is running
	changed chan struct{} // closed and replaced on every change
	err     error         // last list/watch error while not synced
}

func newView(st coord.Store, prefix string, log *slog.Logger) *view {
	return &view{st: st, prefix: prefix, log: log, kvs: map[string]coord.KV{}, changed: make(chan struct{})}
}

// run keeps the mirror until ctx is done.
func (v *view) run(ctx context.Context) {
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		err := v.syncOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		v.mu.Lock()
		v.synced = false
		v.err = err
		v.notifyLocked()
		v.mu.Unlock()
		if errors.Is(err, coord.ErrCompacted) {
			backoff = 50 * time.Millisecond
			continue
		}
		v.log.Warn("fleet watch lost; listing again", "err", err, "retry_in", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(backoff*2, time.Second)
	}
}

// syncOnce lists the prefix, then applies the watch until it fails.
func (v *view) syncOnce(ctx context.Context) error {
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	kvs, rev, err := v.st.List(lctx, v.prefix)
	cancel()
	if err != nil {
		return err
	}
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	ch := v.st.Watch(wctx, v.prefix, rev+1)
	v.mu.Lock()
	v.kvs = make(map[string]coord.KV, len(kvs))
	for _, kv := range kvs {
		v.kvs[kv.Key] = kv
	}
	v.rev = rev
	v.synced = true
	v.err = nil
	v.notifyLocked()
	v.mu.Unlock()
	for resp := range ch {
		if resp.Err != nil {
			return resp.Err
		}
		v.mu.Lock()
		for _, ev := range resp.Events {
			if ev.Type == coord.EventDelete {
				delete(v.kvs, ev.KV.Key)
			} else {
				v.kvs[ev.KV.Key] = ev.KV
			}
		}
		if resp.Revision > v.rev {
			v.rev = resp.Revision
		}
		v.notifyLocked()
		v.mu.Unlock()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return coord.ErrUnavailable
}

func (v *view) notifyLocked() {
	close(v.changed)
	v.changed = make(chan struct{})
}

// snapshot is a consistent read of the mirror.
type snapshot struct {
	kvs    map[string]coord.KV
	rev    int64
	synced bool
	err    error
}

func (s snapshot) get(key string) (coord.KV, bool) {
	kv, ok := s.kvs[key]
	return kv, ok
}

// read returns a copy of the mirror and a channel closed on its next change.
func (v *view) read() (snapshot, <-chan struct{}) {
	v.mu.Lock()
	defer v.mu.Unlock()
	m := make(map[string]coord.KV, len(v.kvs))
	for k, kv := range v.kvs {
		m[k] = kv
	}
	return snapshot{kvs: m, rev: v.rev, synced: v.synced, err: v.err}, v.changed
}

// waitRev waits until the mirror has seen revision rev.
func (v *view) waitRev(ctx context.Context, rev int64) error {
	for {
		v.mu.Lock()
		ok, ch := v.rev >= rev && v.synced, v.changed
		v.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}
