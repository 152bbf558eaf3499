package proxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/loadgen"
)

// versionHandler answers with an X-Version header, reading the body.
func versionHandler(v string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Version", v)
		_, _ = io.WriteString(w, "ok "+v)
	})
}

// dupListener returns a second listener on ln's socket, as a successor
// process inherits it.
func dupListener(t *testing.T, ln net.Listener) net.Listener {
	t.Helper()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dup, err := net.FileListener(f)
	if err != nil {
		t.Fatal(err)
	}
	return dup
}

// TestDrainHandsOverWithoutFailures: a server drains while a second one
// serves the same socket, under keep-alive POSTs and new connections that
// are never retried: no request fails, and the second server takes all
// traffic.
func TestDrainHandsOverWithoutFailures(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dup := dupListener(t, ln)
	addr := ln.Addr().String()
	var oldServed atomic.Int64 // requests the old server's handler began
	oldH := versionHandler("old")
	counted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { oldServed.Add(1); oldH.ServeHTTP(w, r) })
	oldSrv, err := NewServer(counted, ServerOptions{HTTPAddr: addr, HTTPListener: ln})
	if err != nil {
		t.Fatal(err)
	}
	if err := oldSrv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = oldSrv.Close() })
	l := loadgen.New(loadgen.Options{URL: "http://" + addr, Workers: 8})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx) }()
	waitServed(t, l, "old", 500)

	newSrv, err := NewServer(versionHandler("new"), ServerOptions{HTTPAddr: addr, HTTPListener: dup})
	if err != nil {
		t.Fatal(err)
	}
	if err := newSrv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = newSrv.Close() })
	dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer dcancel()
	if err := oldSrv.Drain(dctx); err != nil {
		t.Errorf("drain: %v", err)
	}
	if n := oldSrv.openConnections(); n != 0 {
		t.Errorf("%d connections still open after the drain", n)
	}
	drained := oldServed.Load()
	_, _, before, _ := l.Totals()
	waitServed(t, l, "new", before["new"]+500)
	cancel()
	<-done
	total, failed, per, errs := l.Totals()
	if failed != 0 {
		t.Errorf("%d of %d requests failed during the drain: %v", failed, total, errs)
	}
	// Counted on the server: a response the old server sent just before
	// its drain returned may reach the client's tally just after.
	if n := oldServed.Load() - drained; n != 0 {
		t.Errorf("the drained server began %d requests after its drain returned", n)
	}
	t.Logf("%d requests: %v", total, per)
}

// waitServed waits until l has had n successes from version v.
func waitServed(t *testing.T, l *loadgen.Load, v string, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, _, per, _ := l.Totals(); per[v] >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer from %s", v)
		}
		time.Sleep(time.Millisecond) // the load's progress sends no event
	}
}

// TestDrainFinishesInFlightAndClosesIdle: a request in flight when the
// drain begins completes (its connection then closes), an idle keep-alive
// connection is closed after DrainIdleAfter, and new connections are no
// longer accepted.
func TestDrainFinishesInFlightAndClosesIdle(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			entered <- struct{}{}
			<-release
		}
		_, _ = io.WriteString(w, "done")
	})
	s, base := startServer(t, h, ServerOptions{})
	idle := newClient(true)
	if resp, err := idle.Get(base + "/"); err != nil {
		t.Fatal(err)
	} else {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	type answer struct {
		resp *http.Response
		err  error
	}
	slow := make(chan answer, 1)
	go func() {
		resp, err := newClient(false).Post(base+"/slow", "text/plain", nil)
		slow <- answer{resp, err}
	}()
	<-entered
	drained := make(chan error, 1)
	go func() { drained <- s.Drain(context.Background()) }()
	close(release)
	a := <-slow
	if a.err != nil {
		t.Fatalf("in-flight request: %v", a.err)
	}
	a.resp.Body.Close()
	if a.resp.StatusCode != 200 {
		t.Errorf("in-flight request: %d, want 200", a.resp.StatusCode)
	}
	if err := <-drained; err != nil {
		t.Errorf("drain: %v", err)
	}
	if n := s.openConnections(); n != 0 {
		t.Errorf("%d connections open after the drain (the idle one must be closed)", n)
	}
	if c, err := net.DialTimeout("tcp", s.HTTPAddr().String(), time.Second); err == nil {
		c.Close()
		t.Error("a new connection was accepted after the drain")
	}
}
