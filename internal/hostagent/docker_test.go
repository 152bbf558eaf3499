package hostagent

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
)

// TestPrunerCoalesces: requests made while a prune of the service runs
// cause exactly one more run after it; other services run independently.
func TestPrunerCoalesces(t *testing.T) {
	p := newPruner(slog.New(slog.DiscardHandler))
	defer p.close()
	release := make(chan struct{})
	entered := make(chan struct{}, 8)
	var runs atomic.Int32
	run := func(ctx context.Context) error {
		runs.Add(1)
		entered <- struct{}{}
		<-release
		return nil
	}
	p.schedule("api", run)
	<-entered // the first run is blocked inside
	p.schedule("api", run)
	p.schedule("api", run)

	otherDone := make(chan struct{})
	p.schedule("web", func(context.Context) error { close(otherDone); return nil })
	<-otherDone

	release <- struct{}{} // end the first run; one more follows
	<-entered
	close(release)
	p.close()
	if n := runs.Load(); n != 2 {
		t.Errorf("%d prune runs, want 2 (the requests made meanwhile coalesce)", n)
	}
	if !p.idle() {
		t.Errorf("pruner not idle after close")
	}
}

// TestPrunerCloseCancels: close cancels a running prune, waits for it, and
// later requests are ignored.
func TestPrunerCloseCancels(t *testing.T) {
	p := newPruner(slog.New(slog.DiscardHandler))
	started := make(chan struct{})
	var ended atomic.Bool
	p.schedule("api", func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		ended.Store(true)
		return ctx.Err()
	})
	<-started
	p.close()
	if !ended.Load() {
		t.Fatal("close returned before the running prune ended")
	}
	called := false
	p.schedule("api", func(context.Context) error { called = true; return nil })
	p.close() // idempotent, and waits for anything scheduled
	if called {
		t.Error("a prune ran after close")
	}
}
