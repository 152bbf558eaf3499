// Package local is the embedded coordination store of a single host: an
// in-memory revisioned key space whose every write is on disk before it is
// acknowledged. It needs no external service; a fleet of one runs on it.
package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cutover-dev/cutover/internal/coord"
	"github.com/cutover-dev/cutover/internal/store"
)

// DefaultHistory is how many recent events a store keeps for watches from
// a past revision.
const DefaultHistory = 10_000

const dataFile = "coord.json"

// Options configures Open.
type Options struct {
	// History is how many recent events are kept for watches from a past
	// revision (default DefaultHistory); a watch from an older revision
	// ends with coord.ErrCompacted, and so does a watcher that falls this
	// far behind.
	History int
	// NoSync skips fsync (tests only).
	NoSync bool
}

// Store is the local coord.Store. Its methods are safe for concurrent use;
// writes are serialised.
type Store struct {
	dir  string
	opts Options
	lock *store.FileLock

	mu       sync.Mutex
	kvs      map[string]coord.KV
	rev      int64
	events   []revEvents // recent transactions, oldest first
	leases   map[coord.LeaseID]*lease
	nextID   coord.LeaseID
	watchers map[*watcher]struct{}
	closed   bool
	reaper   *time.Timer
}

type revEvents struct {
	rev    int64
	events []coord.Event
}

type lease struct {
	ttl     time.Duration
	expires time.Time
	keys    map[string]bool
}

// persisted is the file format.
type persisted struct {
	Revision int64      `json:"revision"`
	Keys     []coord.KV `json:"keys"`
	NextID   int64      `json:"next_lease"`
}

var _ coord.Store = (*Store)(nil)

// Open opens (creating if needed) the store in dir and takes its lock.
// Keys attached to leases are gone, as if every lease had expired while
// the store was closed; revisions go on from where they were.
func Open(dir string, opts Options) (*Store, error) {
	if opts.History <= 0 {
		opts.History = DefaultHistory
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("coordination store %s: %w", dir, err)
	}
	lk, err := store.LockFile(filepath.Join(dir, "coord.lock"), dir)
	if err != nil {
		return nil, err
	}
	s := &Store{dir: dir, opts: opts, lock: lk, kvs: map[string]coord.KV{}, leases: map[coord.LeaseID]*lease{},
		watchers: map[*watcher]struct{}{}, nextID: 1}
	if err := s.load(); err != nil {
		_ = lk.Unlock()
		return nil, err
	}
	return s, nil
}

func (s *Store) load() error {
	b, err := os.ReadFile(filepath.Join(s.dir, dataFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read coordination store: %w", err)
	}
	var p persisted
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("coordination store %s is corrupt: %w", filepath.Join(s.dir, dataFile), err)
	}
	s.rev, s.nextID = p.Revision, coord.LeaseID(max(p.NextID, 1))
	leased := false
	for _, kv := range p.Keys {
		if kv.Lease != 0 {
			leased = true
			continue
		}
		s.kvs[kv.Key] = kv
	}
	if leased {
		// Leases do not outlive the process: their keys go in one revision.
		s.rev++
		return s.persist()
	}
	return nil
}

// persist writes the key space; called with mu held.
func (s *Store) persist() error {
	p := persisted{Revision: s.rev, NextID: int64(s.nextID), Keys: make([]coord.KV, 0, len(s.kvs))}
	for _, kv := range s.kvs {
		p.Keys = append(p.Keys, kv)
	}
	slices.SortFunc(p.Keys, func(a, b coord.KV) int { return strings.Compare(a.Key, b.Key) })
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if s.opts.NoSync {
		return os.WriteFile(filepath.Join(s.dir, dataFile), b, 0o600)
	}
	return store.WriteFileAtomic(s.dir, dataFile, b, 0o600)
}

func (s *Store) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed {
		return coord.ErrClosed
	}
	return nil
}

// Get implements coord.Store.
func (s *Store) Get(ctx context.Context, key string) (coord.KV, bool, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return coord.KV{}, false, 0, err
	}
	kv, ok := s.kvs[key]
	return cloneKV(kv), ok, s.rev, nil
}

// List implements coord.Store.
func (s *Store) List(ctx context.Context, prefix string) ([]coord.KV, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return nil, 0, err
	}
	var out []coord.KV
	for k, kv := range s.kvs {
		if strings.HasPrefix(k, prefix) {
			out = append(out, cloneKV(kv))
		}
	}
	slices.SortFunc(out, func(a, b coord.KV) int { return strings.Compare(a.Key, b.Key) })
	return out, s.rev, nil
}

func cloneKV(kv coord.KV) coord.KV {
	kv.Value = slices.Clone(kv.Value)
	return kv
}

func (s *Store) holds(c coord.Cmp) bool {
	kv, ok := s.kvs[c.Key]
	var cmp int
	switch c.Target {
	case coord.CmpValue:
		if !ok {
			return false
		}
		cmp = strings.Compare(string(kv.Value), string(c.Value))
	case coord.CmpModRevision:
		cmp = compareInt(kv.ModRevision, c.Rev)
	case coord.CmpCreateRevision:
		cmp = compareInt(kv.CreateRevision, c.Rev)
	}
	switch c.Op {
	case coord.Equal:
		return cmp == 0
	case coord.NotEqual:
		return cmp != 0
	case coord.Less:
		return cmp < 0
	case coord.Greater:
		return cmp > 0
	}
	return false
}

func compareInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Txn implements coord.Store. A transaction that writes is on disk before
// Txn returns; if the write fails, the transaction is not applied.
func (s *Store) Txn(ctx context.Context, t coord.Txn) (coord.TxnResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return coord.TxnResult{}, err
	}
	ok := true
	for _, c := range t.If {
		if !s.holds(c) {
			ok = false
			break
		}
	}
	ops := t.Then
	if !ok {
		ops = t.Else
	}
	for _, o := range ops {
		if o.Kind == coord.OpPut && o.Lease != 0 {
			if _, live := s.leases[o.Lease]; !live {
				return coord.TxnResult{}, fmt.Errorf("%w: lease %d", coord.ErrLeaseNotFound, o.Lease)
			}
		}
	}
	if err := s.apply(ops); err != nil {
		return coord.TxnResult{}, err
	}
	return coord.TxnResult{Succeeded: ok, Revision: s.rev}, nil
}

// apply runs ops at the next revision, persists, and notifies watchers;
// called with mu held. On a persist failure nothing is changed.
func (s *Store) apply(ops []coord.Op) error {
	rev := s.rev + 1
	var evs []coord.Event
	next := s.kvs
	undo := map[string]*coord.KV{}
	save := func(k string) {
		if _, done := undo[k]; done {
			return
		}
		if kv, ok := next[k]; ok {
			c := kv
			undo[k] = &c
		} else {
			undo[k] = nil
		}
	}
	del := func(k string) {
		if _, ok := next[k]; !ok {
			return
		}
		save(k)
		delete(next, k)
		evs = append(evs, coord.Event{Type: coord.EventDelete, KV: coord.KV{Key: k, ModRevision: rev}})
	}
	for _, o := range ops {
		switch o.Kind {
		case coord.OpPut:
			save(o.Key)
			kv, exists := next[o.Key]
			if !exists {
				kv = coord.KV{Key: o.Key, CreateRevision: rev}
			}
			kv.Value, kv.ModRevision, kv.Version, kv.Lease = slices.Clone(o.Value), rev, kv.Version+1, o.Lease
			next[o.Key] = kv
			evs = append(evs, coord.Event{Type: coord.EventPut, KV: cloneKV(kv)})
		case coord.OpDelete:
			del(o.Key)
		case coord.OpDeletePrefix:
			for k := range next {
				if strings.HasPrefix(k, o.Key) {
					del(k)
				}
			}
		}
	}
	if len(evs) == 0 {
		return nil
	}
	s.rev = rev
	if err := s.persist(); err != nil {
		for k, kv := range undo {
			if kv == nil {
				delete(s.kvs, k)
			} else {
				s.kvs[k] = *kv
			}
		}
		s.rev--
		return fmt.Errorf("persist coordination store: %w", err)
	}
	// Lease bookkeeping follows the committed keys.
	for k, prev := range undo {
		if prev != nil && prev.Lease != 0 {
			if l := s.leases[prev.Lease]; l != nil {
				delete(l.keys, k)
			}
		}
		if kv, ok := s.kvs[k]; ok && kv.Lease != 0 {
			if l := s.leases[kv.Lease]; l != nil {
				l.keys[k] = true
			}
		}
	}
	s.events = append(s.events, revEvents{rev: rev, events: evs})
	if over := s.eventCount() - s.opts.History; over > 0 {
		drop := 0
		for drop < len(s.events) && over > 0 {
			over -= len(s.events[drop].events)
			drop++
		}
		s.events = slices.Delete(s.events, 0, drop)
	}
	for w := range s.watchers {
		w.offer(revEvents{rev: rev, events: evs})
	}
	return nil
}

func (s *Store) eventCount() int {
	n := 0
	for _, e := range s.events {
		n += len(e.events)
	}
	return n
}

// oldestKept is the oldest revision a watch can start from.
func (s *Store) oldestKept() int64 {
	if len(s.events) == 0 {
		return s.rev + 1
	}
	return s.events[0].rev
}

// Compact drops the kept events up to rev (for tests of compaction).
func (s *Store) Compact(rev int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := 0
	for i < len(s.events) && s.events[i].rev <= rev {
		i++
	}
	s.events = slices.Delete(s.events, 0, i)
}

// Close implements coord.Store: watches end, leases are forgotten (their
// keys are dropped on the next Open). It is idempotent.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	if s.reaper != nil {
		s.reaper.Stop()
	}
	ws := s.watchers
	s.watchers = nil
	s.mu.Unlock()
	for w := range ws {
		w.end(coord.ErrClosed)
	}
	return s.lock.Unlock()
}
