package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// streamBackend serves /sse (one event, then holds the stream open) and /ws
// (a WebSocket echo) until the client or the proxy ends them.
func streamBackend(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/sse", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: hello\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, msg); err != nil {
				return
			}
		}
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts
}

func TestDrainDeadlineEndsStreamsAndWebSockets(t *testing.T) {
	old, next := streamBackend(t), nameBackend(t, "next")
	p := newTestProxy(t, Options{})
	if err := p.Apply([]ServiceSpec{oneSet("web", "v1", TargetSpec{ID: "old", Addr: addrOf(old)})}); err != nil {
		t.Fatal(err)
	}
	_, base := startServer(t, p, ServerOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()

	// An SSE stream that outlives the drain.
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/sse", nil)
	sse, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer sse.Body.Close()
	br := bufio.NewReader(sse.Body)
	if line, err := br.ReadString('\n'); err != nil || line != "data: hello\n" {
		t.Fatalf("first event %q %v", line, err)
	}

	// A WebSocket that outlives the drain.
	ws, _, err := websocket.Dial(ctx, strings.Replace(base, "http", "ws", 1)+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if err := ws.Write(ctx, websocket.MessageText, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := ws.Read(ctx); err != nil || string(msg) != "ping" {
		t.Fatalf("echo %q %v", msg, err)
	}
	if n := p.InFlight("old"); n != 2 {
		t.Fatalf("InFlight(old) = %d, want 2", n)
	}

	// Switch, then drain the old target with a short deadline.
	if err := p.UpdateService(oneSet("web", "v2", TargetSpec{ID: "next", Addr: addrOf(next)})); err != nil {
		t.Fatal(err)
	}
	res, err := p.Drain(ctx, "old", 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if res.Cut != 2 || res.Waited < 300*time.Millisecond {
		t.Fatalf("DrainResult %+v, want Cut 2 after the timeout", res)
	}

	// The SSE stream ends cleanly (a proper end of the chunked body).
	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatalf("SSE stream not closed cleanly: %v (read %q)", err, rest)
	}
	// The WebSocket client receives a close frame with 1001.
	_, _, err = ws.Read(ctx)
	if status := websocket.CloseStatus(err); status != websocket.StatusGoingAway {
		t.Fatalf("websocket read error %v (status %v), want close 1001", err, status)
	}
	if n := p.InFlight("old"); n != 0 {
		t.Fatalf("InFlight(old) = %d after drain", n)
	}
	p.mu.Lock()
	_, known := p.targets["old"]
	p.mu.Unlock()
	if known {
		t.Fatal("drained target no longer listed was not forgotten")
	}
}

func TestDrainWaitsForInFlight(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		_, _ = io.WriteString(w, "slow done")
	}))
	t.Cleanup(slow.Close)
	other := nameBackend(t, "other")
	p := newTestProxy(t, Options{})
	// Both targets stay listed: a draining target gets no new requests.
	spec := oneSet("web", "v1", TargetSpec{ID: "slow", Addr: addrOf(slow)}, TargetSpec{ID: "other", Addr: addrOf(other)})
	spec.Balance = LeastInFlight
	if err := p.Apply([]ServiceSpec{spec}); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		for {
			w := serve(p, "GET", "http://x/", nil)
			if w.Body.String() != "other" {
				got <- w.Body.String()
				return
			}
		}
	}()
	<-started
	done := make(chan DrainResult, 1)
	go func() {
		res, err := p.Drain(context.Background(), "slow", 10*time.Second)
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	// Wait until the drain is in effect, then check routing avoids the target.
	for !p.Services()[0].Active.Targets[0].Draining {
		time.Sleep(time.Millisecond)
	}
	for i := 0; i < 10; i++ {
		if w := serve(p, "GET", "http://x/", nil); w.Body.String() != "other" {
			t.Fatalf("request reached the draining target: %q", w.Body.String())
		}
	}
	select {
	case res := <-done:
		t.Fatalf("drain returned with a request in flight: %+v", res)
	default:
	}
	close(release)
	if body := <-got; body != "slow done" {
		t.Fatalf("in-flight request got %q", body)
	}
	res := <-done
	if res.Cut != 0 || res.Waited >= 10*time.Second {
		t.Fatalf("DrainResult %+v", res)
	}
	// Still listed, so still known and still drained.
	if ti := p.Services()[0].Active.Targets[0]; !ti.Draining {
		t.Fatalf("target %+v", ti)
	}
}

func TestDrainCanceledByRelisting(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })
	p := newTestProxy(t, Options{})
	v1 := oneSet("web", "v1", TargetSpec{ID: "a", Addr: addrOf(slow)})
	if err := p.Apply([]ServiceSpec{v1}); err != nil {
		t.Fatal(err)
	}
	go serve(p, "GET", "http://x/", nil)
	<-started
	if err := p.UpdateService(oneSet("web", "v2")); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := p.Drain(context.Background(), "a", 10*time.Second)
		errc <- err
	}()
	for p.Services()[0].Active.Version != "v2" || !p.draining("a") {
		time.Sleep(time.Millisecond)
	}
	// Roll back: listing the target again cancels its drain.
	if err := p.UpdateService(v1); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, ErrDrainCanceled) {
		t.Fatalf("Drain error %v, want ErrDrainCanceled", err)
	}
	if ti := p.Services()[0].Active.Targets[0]; ti.Draining {
		t.Fatalf("target still draining after relisting: %+v", ti)
	}
}

func TestDrainUnknownTarget(t *testing.T) {
	p := newTestProxy(t, Options{})
	if _, err := p.Drain(context.Background(), "nope", time.Second); !errors.Is(err, ErrUnknownTarget) {
		t.Fatalf("err %v", err)
	}
}

// draining reports whether the target is draining (test helper).
func (p *Proxy) draining(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.targets[id]
	return t != nil && t.draining.Load()
}

// TestRelistedDrainingTargetServesAtOnce: switching back to a target whose
// drain has not finished (a rollback right after a switch) serves every
// request from the moment the table lists it: its drain is canceled before
// the table is visible. Requests run concurrently with each switch back.
func TestRelistedDrainingTargetServesAtOnce(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	hold := func() { once.Do(func() { close(release) }) }
	t.Cleanup(hold)
	a := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			<-release // keeps the drain of a from finishing
		}
	}))
	t.Cleanup(a.Close)
	b := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(b.Close)
	p := newTestProxy(t, Options{})
	v1 := oneSet("web", "v1", TargetSpec{ID: "a", Addr: addrOf(a)})
	v2 := oneSet("web", "v2", TargetSpec{ID: "b", Addr: addrOf(b)})
	if err := p.Apply([]ServiceSpec{v1}); err != nil {
		t.Fatal(err)
	}
	go serve(p, "GET", "http://x/hold", nil)
	for p.InFlight("a") == 0 {
		time.Sleep(time.Millisecond)
	}
	var failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if w := serve(p, "GET", "http://x/", nil); w.Code != http.StatusOK {
					failed.Add(1)
				}
			}
		})
	}
	for range 200 {
		if err := p.UpdateService(v2); err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() {
			_, err := p.Drain(context.Background(), "a", 10*time.Second)
			errc <- err
		}()
		for !p.draining("a") {
			runtime.Gosched()
		}
		if err := p.UpdateService(v1); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; !errors.Is(err, ErrDrainCanceled) {
			t.Fatalf("Drain error %v, want ErrDrainCanceled", err)
		}
	}
	close(stop)
	wg.Wait()
	hold()
	if n := failed.Load(); n != 0 {
		t.Fatalf("%d request(s) failed while switching back to a draining target", n)
	}
}
