package acme

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/coord"
	"github.com/cutover-dev/cutover/internal/coord/local"
)

func newStorage(t *testing.T) (*StoreStorage, coord.Store) {
	t.Helper()
	st, err := local.Open(t.TempDir(), local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := NewStoreStorage(func() coord.Store { return st }, "/test/acme/", slog.New(slog.DiscardHandler))
	t.Cleanup(func() { s.Close() })
	return s, st
}

func TestStoreStorageKeys(t *testing.T) {
	s, _ := newStorage(t)
	ctx := t.Context()
	if _, err := s.Load(ctx, "certificates/ca/a.example/a.example.crt"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load of a missing key: %v, want fs.ErrNotExist", err)
	}
	for _, k := range []string{"certificates/ca/a.example/a.example.crt", "certificates/ca/a.example/a.example.key", "certificates/ca/b.example/b.example.crt", "acme/ca/users/x.json"} {
		if err := s.Store(ctx, k, []byte("v:"+k)); err != nil {
			t.Fatal(err)
		}
	}
	v, err := s.Load(ctx, "certificates/ca/a.example/a.example.key")
	if err != nil || string(v) != "v:certificates/ca/a.example/a.example.key" {
		t.Fatalf("Load = %q, %v", v, err)
	}
	got, err := s.List(ctx, "certificates/ca", false)
	if err != nil || !slices.Equal(got, []string{"certificates/ca/a.example", "certificates/ca/b.example"}) {
		t.Fatalf("List non-recursive = %v, %v", got, err)
	}
	got, err = s.List(ctx, "certificates", true)
	if err != nil || len(got) != 3 {
		t.Fatalf("List recursive = %v, %v; want the 3 files", got, err)
	}
	if ki, err := s.Stat(ctx, "certificates/ca"); err != nil || ki.IsTerminal {
		t.Fatalf("Stat of a directory = %+v, %v", ki, err)
	}
	if ki, err := s.Stat(ctx, "acme/ca/users/x.json"); err != nil || !ki.IsTerminal || ki.Size != int64(len("v:acme/ca/users/x.json")) || time.Since(ki.Modified) > time.Minute {
		t.Fatalf("Stat of a file = %+v, %v", ki, err)
	}
	if !s.Exists(ctx, "certificates/ca/b.example") || s.Exists(ctx, "certificates/zz") {
		t.Fatal("Exists is wrong")
	}
	if err := s.Delete(ctx, "certificates/ca/a.example"); err != nil {
		t.Fatal(err)
	}
	if s.Exists(ctx, "certificates/ca/a.example/a.example.crt") || !s.Exists(ctx, "certificates/ca/b.example/b.example.crt") {
		t.Fatal("Delete of a directory removed the wrong keys")
	}
}

// TestStoreStorageLock: a second holder waits until the first unlocks;
// a holder whose storage is closed (its host gone) releases its locks.
func TestStoreStorageLock(t *testing.T) {
	a, st := newStorage(t)
	b := NewStoreStorage(func() coord.Store { return st }, "/test/acme/", slog.New(slog.DiscardHandler))
	defer b.Close()
	ctx := t.Context()
	if err := a.Lock(ctx, "issue_cert_a.example"); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.TryLock(ctx, "issue_cert_a.example"); err != nil || ok {
		t.Fatalf("TryLock of a held lock = %v, %v; want false", ok, err)
	}
	got := make(chan error, 1)
	go func() { got <- b.Lock(ctx, "issue_cert_a.example") }()
	select {
	case err := <-got:
		t.Fatalf("Lock returned %v while the lock is held", err)
	case <-time.After(2 * lockPoll):
	}
	if err := b.Unlock(ctx, "issue_cert_a.example"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := b.TryLock(ctx, "issue_cert_a.example"); ok {
		t.Fatal("an Unlock by a non-holder released the lock")
	}
	if err := a.Unlock(ctx, "issue_cert_a.example"); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("Lock after the holder unlocked: %v", err)
	}
	// b holds it now; b's host goes away.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := a.Lock(lctx, "issue_cert_a.example"); err != nil {
		t.Fatalf("Lock after the holder's storage closed: %v", err)
	}
}
