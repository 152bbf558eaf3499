// Package coordtest is the contract suite every coord.Store backend must
// pass. A backend's test calls Run with a function that opens a fresh,
// empty store (or one with a fresh key prefix).
package coordtest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/coord"
)

// Backend describes the store under test.
type Backend struct {
	// Open returns a store and a key prefix no other test uses.
	Open func(t *testing.T) (coord.Store, string)
	// Compact, if set, makes the store forget events up to rev.
	Compact func(t *testing.T, st coord.Store, rev int64)
	// LeaseTTL is the shortest lease TTL the store grants (etcd: 2s).
	LeaseTTL time.Duration
}

// Run runs the whole suite.
func Run(t *testing.T, b Backend) {
	tests := []struct {
		name string
		fn   func(*testing.T, Backend)
	}{
		{"GetListRevisions", testRevisions},
		{"TxnCompares", testCompares},
		{"TxnElseAndDeletePrefix", testElse},
		{"SerialisedIncrements", testIncrements},
		{"WatchReplayAndBatches", testWatch},
		{"WatchFromNow", testWatchNow},
		{"WatchCancel", testWatchCancel},
		{"LeaseRevokeAndExpiry", testLeases},
		{"Session", testSession},
	}
	// The other tests run in parallel; compaction (which on etcd acts on
	// the whole server) runs once they are done.
	t.Run("group", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) { t.Parallel(); tt.fn(t, b) })
		}
	})
	t.Run("WatchCompacted", func(t *testing.T) { testCompacted(t, b) })
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func mustTxn(t *testing.T, st coord.Store, tx coord.Txn) coord.TxnResult {
	t.Helper()
	r, err := st.Txn(ctx(t), tx)
	if err != nil {
		t.Fatalf("txn: %v", err)
	}
	return r
}

func testRevisions(t *testing.T, b Backend) {
	st, p := b.Open(t)
	r1 := mustTxn(t, st, coord.Txn{Then: []coord.Op{coord.Put(p+"a", []byte("1")), coord.Put(p+"b", []byte("2"))}})
	r2 := mustTxn(t, st, coord.Txn{Then: []coord.Op{coord.Put(p+"a", []byte("3"))}})
	if r2.Revision <= r1.Revision {
		t.Fatalf("revisions %d then %d: each write transaction takes a new revision", r1.Revision, r2.Revision)
	}
	kv, ok, rev, err := st.Get(ctx(t), p+"a")
	if err != nil || !ok || string(kv.Value) != "3" || kv.CreateRevision != r1.Revision || kv.ModRevision != r2.Revision || kv.Version != 2 || rev < r2.Revision {
		t.Fatalf("get a = %+v %v rev %d %v", kv, ok, rev, err)
	}
	if _, ok, _, err := st.Get(ctx(t), p+"missing"); ok || err != nil {
		t.Fatalf("missing key: found %v err %v", ok, err)
	}
	kvs, _, err := st.List(ctx(t), p)
	if err != nil || len(kvs) != 2 || kvs[0].Key != p+"a" || kvs[1].Key != p+"b" {
		t.Fatalf("list = %+v %v", kvs, err)
	}
}

func testCompares(t *testing.T, b Backend) {
	st, p := b.Open(t)
	k := p + "k"
	r := mustTxn(t, st, coord.Txn{If: []coord.Cmp{coord.Missing(k)}, Then: []coord.Op{coord.Put(k, []byte("v1"))}})
	if !r.Succeeded {
		t.Fatal("Missing on a new key must hold")
	}
	for _, c := range []struct {
		cmp  coord.Cmp
		want bool
	}{
		{coord.Missing(k), false},
		{coord.Exists(k), true},
		{coord.ValueIs(k, []byte("v1")), true},
		{coord.ValueIs(k, []byte("v2")), false},
		{coord.ModRevisionIs(k, r.Revision), true},
		{coord.ModRevisionIs(k, r.Revision+1), false},
		{coord.ModRevisionIs(p+"none", 0), true},
		{coord.ValueIs(p+"none", nil), false},
		{coord.Exists(p + "none"), false},
	} {
		got := mustTxn(t, st, coord.Txn{If: []coord.Cmp{c.cmp}}).Succeeded
		if got != c.want {
			t.Errorf("compare %+v = %v, want %v", c.cmp, got, c.want)
		}
	}
}

func testElse(t *testing.T, b Backend) {
	st, p := b.Open(t)
	mustTxn(t, st, coord.Txn{Then: []coord.Op{coord.Put(p+"d/1", nil), coord.Put(p+"d/2", nil), coord.Put(p+"e", nil)}})
	r := mustTxn(t, st, coord.Txn{If: []coord.Cmp{coord.Missing(p + "e")}, Then: []coord.Op{coord.Put(p+"then", nil)},
		Else: []coord.Op{coord.DeletePrefix(p + "d/"), coord.Put(p+"else", nil)}})
	if r.Succeeded {
		t.Fatal("the compare should have failed")
	}
	kvs, _, _ := st.List(ctx(t), p)
	var keys []string
	for _, kv := range kvs {
		keys = append(keys, kv.Key[len(p):])
	}
	if fmt.Sprint(keys) != "[e else]" {
		t.Fatalf("keys after else branch: %v", keys)
	}
}

func testIncrements(t *testing.T, b Backend) {
	st, p := b.Open(t)
	k := p + "n"
	const workers, each = 4, 15
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				for {
					kv, ok, _, err := st.Get(ctx(t), k)
					if err != nil {
						t.Error(err)
						return
					}
					n := 0
					if ok {
						n, _ = strconv.Atoi(string(kv.Value))
					}
					r, err := st.Txn(ctx(t), coord.Txn{If: []coord.Cmp{coord.ModRevisionIs(k, kv.ModRevision)},
						Then: []coord.Op{coord.Put(k, []byte(strconv.Itoa(n+1)))}})
					if err != nil {
						t.Error(err)
						return
					}
					if r.Succeeded {
						break
					}
				}
			}
		})
	}
	wg.Wait()
	kv, _, _, _ := st.Get(ctx(t), k)
	if string(kv.Value) != strconv.Itoa(workers*each) {
		t.Fatalf("counter = %s, want %d: guarded writes were not serialised", kv.Value, workers*each)
	}
}

func next(t *testing.T, ch <-chan coord.WatchResponse) coord.WatchResponse {
	t.Helper()
	select {
	case r, ok := <-ch:
		if !ok {
			t.Fatal("watch channel closed")
		}
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event within 10s")
	}
	return coord.WatchResponse{}
}

func testWatch(t *testing.T, b Backend) {
	st, p := b.Open(t)
	r1 := mustTxn(t, st, coord.Txn{Then: []coord.Op{coord.Put(p+"a", []byte("1"))}})
	mustTxn(t, st, coord.Txn{Then: []coord.Op{coord.Put(p+"b", []byte("2")), coord.Put(p+"c", []byte("3"))}})
	mustTxn(t, st, coord.Txn{Then: []coord.Op{coord.Put("zz-other", []byte("x"))}})
	mustTxn(t, st, coord.Txn{Then: []coord.Op{coord.Delete(p + "a")}})
	ch := st.Watch(ctx(t), p, r1.Revision)
	var got []string
	for len(got) < 3 {
		r := next(t, ch)
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		var batch []string
		for _, e := range r.Events {
			typ := "put"
			if e.Type == coord.EventDelete {
				typ = "del"
			}
			batch = append(batch, typ+":"+e.KV.Key[len(p):])
		}
		got = append(got, fmt.Sprint(batch))
	}
	if fmt.Sprint(got) != "[[put:a] [put:b put:c] [del:a]]" {
		t.Fatalf("replayed batches %v", got)
	}
}

func testWatchNow(t *testing.T, b Backend) {
	st, p := b.Open(t)
	mustTxn(t, st, coord.Txn{Then: []coord.Op{coord.Put(p+"old", nil)}})
	ch := st.Watch(ctx(t), p, 0)
	// The watch may take a moment to be registered on a remote store:
	// write until the first event arrives.
	r := mustTxn(t, st, coord.Txn{Then: []coord.Op{coord.Put(p+"new", nil)}})
	ev := next(t, ch)
	if ev.Err != nil || len(ev.Events) != 1 || ev.Events[0].KV.Key != p+"new" || ev.Events[0].KV.ModRevision != r.Revision {
		t.Fatalf("watch from now: %+v", ev)
	}
}

func testWatchCancel(t *testing.T, b Backend) {
	st, p := b.Open(t)
	c, cancel := context.WithCancel(context.Background())
	ch := st.Watch(c, p, 0)
	cancel()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("a cancelled watch's channel was not closed")
		}
	}
}

func testCompacted(t *testing.T, b Backend) {
	if b.Compact == nil {
		t.Skip("backend cannot compact on demand")
	}
	st, p := b.Open(t)
	r1 := mustTxn(t, st, coord.Txn{Then: []coord.Op{coord.Put(p+"a", nil)}})
	r2 := mustTxn(t, st, coord.Txn{Then: []coord.Op{coord.Put(p+"a", []byte("x"))}})
	b.Compact(t, st, r2.Revision)
	ch := st.Watch(ctx(t), p, r1.Revision)
	r := next(t, ch)
	if !errors.Is(r.Err, coord.ErrCompacted) {
		t.Fatalf("watch from a compacted revision: %+v, want ErrCompacted", r)
	}
}

func testLeases(t *testing.T, b Backend) {
	st, p := b.Open(t)
	l1, err := st.Grant(ctx(t), b.LeaseTTL)
	if err != nil {
		t.Fatal(err)
	}
	l2, err := st.Grant(ctx(t), b.LeaseTTL)
	if err != nil {
		t.Fatal(err)
	}
	r := mustTxn(t, st, coord.Txn{Then: []coord.Op{coord.PutWithLease(p+"one", nil, l1), coord.PutWithLease(p+"two", nil, l2)}})
	ch := st.Watch(ctx(t), p, r.Revision+1)
	if err := st.Revoke(ctx(t), l1); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, ch); ev.Err != nil || len(ev.Events) != 1 || ev.Events[0].Type != coord.EventDelete || ev.Events[0].KV.Key != p+"one" {
		t.Fatalf("revoke: %+v", ev)
	}
	if _, err := st.KeepAliveOnce(ctx(t), l1); !errors.Is(err, coord.ErrLeaseNotFound) {
		t.Fatalf("keep-alive of a revoked lease: %v, want ErrLeaseNotFound", err)
	}
	if err := st.Revoke(ctx(t), l1); err != nil {
		t.Fatalf("revoking twice: %v", err)
	}
	start := time.Now()
	if ttl, err := st.KeepAliveOnce(ctx(t), l2); err != nil || ttl < b.LeaseTTL {
		t.Fatalf("keep-alive: %s %v", ttl, err)
	}
	ev := next(t, ch)
	if ev.Err != nil || len(ev.Events) != 1 || ev.Events[0].Type != coord.EventDelete || ev.Events[0].KV.Key != p+"two" {
		t.Fatalf("expiry: %+v", ev)
	}
	if waited := time.Since(start); waited < b.LeaseTTL {
		t.Fatalf("lease expired %s after its renewal, before its TTL %s", waited, b.LeaseTTL)
	}
	if _, err := st.Txn(ctx(t), coord.Txn{Then: []coord.Op{coord.PutWithLease(p+"late", nil, l2)}}); !errors.Is(err, coord.ErrLeaseNotFound) {
		t.Fatalf("put on an expired lease: %v, want ErrLeaseNotFound", err)
	}
}

func testSession(t *testing.T, b Backend) {
	st, p := b.Open(t)
	s, err := coord.NewSession(ctx(t), st, b.LeaseTTL, coord.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Live() || time.Until(s.ValidUntil()) > b.LeaseTTL {
		t.Fatalf("new session: live %v, valid for %s", s.Live(), time.Until(s.ValidUntil()))
	}
	mustTxn(t, st, coord.Txn{Then: []coord.Op{coord.PutWithLease(p+"s", nil, s.Lease())}})
	// It outlives its TTL while renewed.
	time.Sleep(b.LeaseTTL + b.LeaseTTL/2) // the point is that time passes
	if _, ok, _, _ := st.Get(ctx(t), p+"s"); !ok || !s.Live() {
		t.Fatalf("renewed session lost its key (%v) or liveness (%v)", ok, s.Live())
	}
	// Revoked behind its back, it ends.
	if err := st.Revoke(ctx(t), s.Lease()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Done():
	case <-time.After(2 * b.LeaseTTL):
		t.Fatal("session did not notice its lease was revoked")
	}
	if s.Live() {
		t.Fatal("a session whose lease is gone says it is live")
	}
	_ = s.Close()
}
