package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func TestStartProcRunsPinnedInItsOwnGroupAndStops(t *testing.T) {
	log := filepath.Join(t.TempDir(), "sleep.log")
	// sh starts a child, so stop must end the whole group.
	p, err := startProc("sleep", 0, nil, log, "sh", "-c", "sleep 60 & echo started; wait")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(treePIDs(p.pid())) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	pids := treePIDs(p.pid())
	if len(pids) < 2 {
		t.Fatalf("treePIDs = %v, want the shell and its child", pids)
	}
	if rss, hwm := memKB(pids); rss <= 0 || hwm < rss {
		t.Errorf("memKB = %d, %d; want positive RSS and HWM >= RSS", rss, hwm)
	}
	p.stop(2 * time.Second)
	if !p.exited() {
		t.Fatal("process still running after stop")
	}
	// The child is reparented and reaped asynchronously: poll until it is gone.
	for _, pid := range pids[1:] {
		deadline := time.Now().Add(5 * time.Second)
		for running(pid) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if running(pid) {
			t.Errorf("child %d still running after stop", pid)
		}
	}
}

// running reports whether pid exists and has not exited.
func running(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	return err == nil && !zombie(b)
}

func TestWaitHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	if err := waitHTTP(context.Background(), nil, srv.URL, time.Second); err != nil {
		t.Fatalf("waitHTTP on a live server: %v", err)
	}
	srv.Close()
	if err := waitHTTP(context.Background(), nil, srv.URL, 200*time.Millisecond); !errors.Is(err, ErrNotReady) {
		t.Fatalf("waitHTTP on a closed server = %v, want ErrNotReady", err)
	}
}

// zombie reports whether a /proc/PID/stat line is of an exited, unreaped process.
func zombie(stat []byte) bool {
	for i := len(stat) - 1; i > 0; i-- {
		if stat[i] == ')' && i+2 < len(stat) {
			return stat[i+2] == 'Z'
		}
	}
	return false
}
