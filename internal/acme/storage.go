package acme

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/cutover-dev/cutover/internal/coord"
)

// lockTTL is how long a lock of a host that died outlives it.
const lockTTL = 15 * time.Second

// lockPoll is how often a waiting Lock tries again.
const lockPoll = 500 * time.Millisecond

// StoreStorage keeps certificates, keys, ACME accounts and challenge
// tokens in the cluster's coordination store under one prefix, so that
// one host obtains a certificate and every host serves it, and any host
// answers a challenge another host started. Its locks are keys attached
// to a lease of its own, so a lock held by a host that dies goes with
// its lease. It implements certmagic.Storage and is safe for concurrent
// use.
type StoreStorage struct {
	st     func() coord.Store
	prefix string
	owner  string
	log    *slog.Logger

	mu   sync.Mutex
	sess *coord.Session
}

var _ certmagic.Storage = (*StoreStorage)(nil)

// NewStoreStorage keeps its keys under prefix (e.g. "/cutover/acme/") in
// the store st returns (the current one: a host that hands over to its
// successor and takes back reopens it; nil while it has none).
func NewStoreStorage(st func() coord.Store, prefix string, log *slog.Logger) *StoreStorage {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return &StoreStorage{st: st, prefix: prefix, owner: hex.EncodeToString(b), log: log}
}

// Close revokes the lock lease, releasing the locks still held.
func (s *StoreStorage) Close() error {
	s.mu.Lock()
	sess := s.sess
	s.sess = nil
	s.mu.Unlock()
	if sess != nil {
		return sess.Close()
	}
	return nil
}

type entry struct {
	Value    []byte    `json:"v"`
	Modified time.Time `json:"t"`
}

// store returns the current store, or one that is unavailable.
func (s *StoreStorage) store() coord.Store {
	if st := s.st(); st != nil {
		return st
	}
	return noStore{}
}

// noStore answers every call with coord.ErrUnavailable.
type noStore struct{ coord.Store }

func (noStore) Get(context.Context, string) (coord.KV, bool, int64, error) {
	return coord.KV{}, false, 0, coord.ErrUnavailable
}
func (noStore) List(context.Context, string) ([]coord.KV, int64, error) {
	return nil, 0, coord.ErrUnavailable
}
func (noStore) Txn(context.Context, coord.Txn) (coord.TxnResult, error) {
	return coord.TxnResult{}, coord.ErrUnavailable
}
func (noStore) Grant(context.Context, time.Duration) (coord.LeaseID, error) {
	return 0, coord.ErrUnavailable
}

func (s *StoreStorage) key(k string) string { return s.prefix + "data/" + strings.TrimPrefix(k, "/") }

// Store puts value at key.
func (s *StoreStorage) Store(ctx context.Context, key string, value []byte) error {
	b, err := json.Marshal(entry{Value: value, Modified: time.Now().UTC()})
	if err != nil {
		return err
	}
	_, err = s.store().Txn(ctx, coord.Txn{Then: []coord.Op{coord.Put(s.key(key), b)}})
	return err
}

func (s *StoreStorage) load(ctx context.Context, key string) (entry, error) {
	kv, found, _, err := s.store().Get(ctx, s.key(key))
	if err != nil {
		return entry{}, err
	}
	if !found {
		return entry{}, fs.ErrNotExist
	}
	var e entry
	if err := json.Unmarshal(kv.Value, &e); err != nil {
		return entry{}, fmt.Errorf("acme storage %s: %w", key, err)
	}
	return e, nil
}

// Load returns the value at key, fs.ErrNotExist when there is none.
func (s *StoreStorage) Load(ctx context.Context, key string) ([]byte, error) {
	e, err := s.load(ctx, key)
	return e.Value, err
}

// Delete removes key and every key under it.
func (s *StoreStorage) Delete(ctx context.Context, key string) error {
	k := s.key(key)
	_, err := s.store().Txn(ctx, coord.Txn{Then: []coord.Op{coord.Delete(k), coord.DeletePrefix(strings.TrimSuffix(k, "/") + "/")}})
	return err
}

// Exists reports whether key is stored, as a value or as a directory.
func (s *StoreStorage) Exists(ctx context.Context, key string) bool {
	_, err := s.Stat(ctx, key)
	return err == nil
}

// List returns the keys under path: every one when recursive, else the
// names one level below path.
func (s *StoreStorage) List(ctx context.Context, path string, recursive bool) ([]string, error) {
	dir := strings.TrimSuffix(s.key(path), "/") + "/"
	kvs, _, err := s.store().List(ctx, dir)
	if err != nil {
		return nil, err
	}
	if len(kvs) == 0 {
		return nil, fs.ErrNotExist
	}
	base := strings.TrimSuffix(strings.TrimPrefix(path, "/"), "/")
	var out []string
	seen := map[string]bool{}
	for _, kv := range kvs {
		rest := strings.TrimPrefix(kv.Key, dir)
		if !recursive {
			rest, _, _ = strings.Cut(rest, "/")
		}
		name := base + "/" + rest
		if base == "" {
			name = rest
		}
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	return out, nil
}

// Stat describes key.
func (s *StoreStorage) Stat(ctx context.Context, key string) (certmagic.KeyInfo, error) {
	e, err := s.load(ctx, key)
	if err == nil {
		return certmagic.KeyInfo{Key: key, Modified: e.Modified, Size: int64(len(e.Value)), IsTerminal: true}, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return certmagic.KeyInfo{}, err
	}
	kvs, _, err := s.store().List(ctx, strings.TrimSuffix(s.key(key), "/")+"/")
	if err != nil {
		return certmagic.KeyInfo{}, err
	}
	if len(kvs) == 0 {
		return certmagic.KeyInfo{}, fs.ErrNotExist
	}
	return certmagic.KeyInfo{Key: key, IsTerminal: false}, nil
}

func (s *StoreStorage) lockKey(name string) string { return s.prefix + "locks/" + name }

// session returns the live lease the locks hang on, granting a new one
// when there is none or the last one was lost.
func (s *StoreStorage) session(ctx context.Context) (*coord.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sess != nil {
		select {
		case <-s.sess.Done():
			s.sess = nil
		default:
			return s.sess, nil
		}
	}
	sess, err := coord.NewSession(ctx, s.store(), lockTTL, coord.SessionOptions{Logger: s.log})
	if err != nil {
		return nil, err
	}
	s.sess = sess
	return sess, nil
}

// Lock takes the named lock, waiting while another host holds it.
func (s *StoreStorage) Lock(ctx context.Context, name string) error {
	for {
		ok, err := s.TryLock(ctx, name)
		if err != nil || ok {
			return err
		}
		t := time.NewTimer(lockPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// TryLock takes the named lock if no one holds it.
func (s *StoreStorage) TryLock(ctx context.Context, name string) (bool, error) {
	sess, err := s.session(ctx)
	if err != nil {
		return false, err
	}
	k := s.lockKey(name)
	r, err := s.store().Txn(ctx, coord.Txn{
		If:   []coord.Cmp{coord.Missing(k)},
		Then: []coord.Op{coord.PutWithLease(k, []byte(s.owner), sess.Lease())},
	})
	if err != nil {
		return false, err
	}
	return r.Succeeded, nil
}

// Unlock releases a lock this storage holds.
func (s *StoreStorage) Unlock(ctx context.Context, name string) error {
	k := s.lockKey(name)
	_, err := s.store().Txn(ctx, coord.Txn{If: []coord.Cmp{coord.ValueIs(k, []byte(s.owner))}, Then: []coord.Op{coord.Delete(k)}})
	return err
}
