package local

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/coord"
	"github.com/cutover-dev/cutover/internal/coord/coordtest"
	"github.com/cutover-dev/cutover/internal/store"
)

func TestContract(t *testing.T) {
	coordtest.Run(t, coordtest.Backend{
		Open: func(t *testing.T) (coord.Store, string) {
			st, err := Open(t.TempDir(), Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Close() })
			return st, "/t/"
		},
		Compact:  func(_ *testing.T, st coord.Store, rev int64) { st.(*Store).Compact(rev) },
		LeaseTTL: 300 * time.Millisecond,
	})
}

func TestReopenKeepsRevisionsDropsLeasedKeys(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	l, _ := st.Grant(ctx, time.Minute)
	r, err := st.Txn(ctx, coord.Txn{Then: []coord.Op{coord.Put("/k", []byte("v")), coord.PutWithLease("/leased", nil, l)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, Options{}); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("second open of one dir: %v, want ErrLocked", err)
	}
	_ = st.Close()
	st, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	kv, ok, rev, _ := st.Get(ctx, "/k")
	if !ok || string(kv.Value) != "v" || kv.ModRevision != r.Revision {
		t.Fatalf("after reopen: %+v %v", kv, ok)
	}
	if rev <= r.Revision {
		t.Fatalf("revision went from %d to %d: dropping leased keys takes a revision", r.Revision, rev)
	}
	if _, ok, _, _ := st.Get(ctx, "/leased"); ok {
		t.Fatal("a leased key survived a restart")
	}
	r2, _ := st.Txn(ctx, coord.Txn{Then: []coord.Op{coord.Put("/k", nil)}})
	if r2.Revision <= rev {
		t.Fatalf("revision went backwards: %d after %d", r2.Revision, rev)
	}
}

func TestSlowWatcherCompacted(t *testing.T) {
	st, err := Open(t.TempDir(), Options{History: 10, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := st.Watch(ctx, "/", 0)
	for i := range 20 {
		if _, err := st.Txn(ctx, coord.Txn{Then: []coord.Op{coord.Put("/k", []byte{byte(i)})}}); err != nil {
			t.Fatal(err)
		}
	}
	// The writer never blocked; the reader learns it fell behind.
	var last coord.WatchResponse
	for r := range ch {
		last = r
	}
	if !errors.Is(last.Err, coord.ErrCompacted) {
		t.Fatalf("last response %+v, want ErrCompacted", last)
	}
}
