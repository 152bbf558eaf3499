package fleet

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/cutover-dev/cutover/internal/coord"
)

// view is a process's mirror of every key under the fleet prefix, kept
// level-triggered: list, then watch from the revision of the list; on a
// compacted or lost watch, list again. Readers wait on changes. Each value
// is decoded once, when it arrives, not on every read.
type view struct {
	st     coord.Store
	keys   keys
	prefix string
	log    *slog.Logger

	mu      sync.Mutex
	kvs     map[string]*mirrored
	rev     int64
	synced  bool          // a list succeeded and its watch is running
	changed chan struct{} // closed and replaced on every change
	err     error         // last list/watch error while not synced
}

// mirrored is one key of the mirror: its kind and names as keys.parse
// gives them (kind "" for a key the fleet does not use) and its decoded
// value (nil when it does not decode). An entry is shared by every
// snapshot that holds this revision of the key: read it, never change it.
type mirrored struct {
	kv         coord.KV
	kind, a, b string
	val        any
}

func newView(st coord.Store, k keys, log *slog.Logger) *view {
	return &view{st: st, keys: k, prefix: k.prefix, log: log, kvs: map[string]*mirrored{}, changed: make(chan struct{})}
}

// mirror parses and decodes one stored key.
func (v *view) mirror(kv coord.KV) *mirrored {
	m := &mirrored{kv: kv}
	kind, a, b, ok := v.keys.parse(kv.Key)
	if !ok {
		return m
	}
	m.kind, m.a, m.b, m.val = kind, a, b, decodeKind(kind, kv.Value)
	return m
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
	mirror := make(map[string]*mirrored, len(kvs))
	for _, kv := range kvs {
		mirror[kv.Key] = v.mirror(kv)
	}
	v.mu.Lock()
	v.kvs = mirror
	v.rev = rev
	v.synced = true
	v.err = nil
	v.notifyLocked()
	v.mu.Unlock()
	for resp := range ch {
		if resp.Err != nil {
			return resp.Err
		}
		puts := make([]*mirrored, len(resp.Events))
		for i, ev := range resp.Events {
			if ev.Type != coord.EventDelete {
				puts[i] = v.mirror(ev.KV)
			}
		}
		v.mu.Lock()
		for i, ev := range resp.Events {
			if ev.Type == coord.EventDelete {
				delete(v.kvs, ev.KV.Key)
			} else {
				v.kvs[ev.KV.Key] = puts[i]
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
	kvs    map[string]*mirrored
	rev    int64
	synced bool
	err    error
}

func (s snapshot) get(key string) (coord.KV, bool) {
	if m, ok := s.kvs[key]; ok {
		return m.kv, true
	}
	return coord.KV{}, false
}

// read returns a copy of the mirror and a channel closed on its next change.
func (v *view) read() (snapshot, <-chan struct{}) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return snapshot{kvs: maps.Clone(v.kvs), rev: v.rev, synced: v.synced, err: v.err}, v.changed
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
