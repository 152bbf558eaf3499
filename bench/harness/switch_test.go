package main

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestSwitcherAlternatesAndCountsErrors(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	calls := 0
	fn := func(_ context.Context, v string) error {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 3 {
			return errors.New("refused")
		}
		seen = append(seen, v)
		return nil
	}
	sw := startSwitcher(context.Background(), fn, time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		if n >= 4 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	sw.stop()
	var r switchRun
	sw.fill(&r)
	if r.SwitchErrors != 1 || r.SwitchErr != "refused" || r.Switches != len(seen) {
		t.Fatalf("run = %+v, seen %v; want 1 error and every success counted", r, seen)
	}
	// The failed switch to v2 (3rd call) is retried, so versions still alternate.
	for i, v := range seen {
		want := []string{"v2", "v1"}[i%2]
		if v != want {
			t.Fatalf("switch %d went to %s, want %s (all: %v)", i, v, want, seen)
		}
	}
}
