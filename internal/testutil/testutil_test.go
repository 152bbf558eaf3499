package testutil

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestMain(m *testing.M) { VerifyTestMain(m) }

// TestSyncBufferWaitFor: a reader waiting for text wakes when a writer in
// another goroutine writes it, and gives up when its context ends.
func TestSyncBufferWaitFor(t *testing.T) {
	var b SyncBuffer
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 100 {
			fmt.Fprintf(&b, "line %d\n", i)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if !b.WaitFor(ctx, "line 99\n") {
		t.Fatal("WaitFor did not see the last line")
	}
	wg.Wait()
	if b.Len() != len(b.String()) || len(b.Bytes()) != b.Len() {
		t.Errorf("Len %d, String %d bytes, Bytes %d", b.Len(), len(b.String()), len(b.Bytes()))
	}
	short, cancelShort := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancelShort()
	if b.WaitFor(short, "never written") {
		t.Error("WaitFor found text never written")
	}
	b.Reset()
	if b.Len() != 0 {
		t.Errorf("Len %d after Reset", b.Len())
	}
}

// TestFreePortsDistinct: ports handed out are never handed out twice.
func TestFreePortsDistinct(t *testing.T) {
	seen := map[int]bool{}
	for _, p := range append(FreePorts(t, 20), FreePort(t)) {
		if seen[p] || p <= 0 {
			t.Fatalf("port %d handed out twice or invalid", p)
		}
		seen[p] = true
	}
}
