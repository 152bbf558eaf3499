package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingBackend is an upstream that counts its open connections.
type countingBackend struct {
	addr       string
	open, peak atomic.Int64
	requests   atomic.Int64
}

func newCountingBackend(t *testing.T) *countingBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &countingBackend{addr: ln.Addr().String()}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b.requests.Add(1)
			n, _ := io.Copy(io.Discard, r.Body)
			fmt.Fprintf(w, "read %d %s\n", n, r.RequestURI)
		}),
		ConnState: func(_ net.Conn, s http.ConnState) {
			switch s {
			case http.StateNew:
				if n := b.open.Add(1); n > b.peak.Load() {
					b.peak.Store(n)
				}
			case http.StateClosed, http.StateHijacked:
				b.open.Add(-1)
			}
		},
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return b
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// slowClient sends a request head and part of its body, then stalls; it
// returns the status line it got and whether the proxy closed the
// connection after it.
func slowClient(addr string, trickle time.Duration) (string, bool, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return "", false, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(c, "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n"+strings.Repeat("x", 100)); err != nil {
		return "", false, err
	}
	br := bufio.NewReader(c)
	if trickle > 0 {
		// One byte at a time until the proxy answers.
		go func() {
			for {
				time.Sleep(trickle)
				if _, err := c.Write([]byte("x")); err != nil {
					return
				}
			}
		}()
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return "", false, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	_, err = br.ReadByte()
	return resp.Status + " " + strings.TrimSpace(string(body)), err == io.EOF || isConnReset(err), nil
}

func TestSlowBodiesReleaseUpstreamConnections(t *testing.T) {
	for _, buffered := range []bool{false, true} {
		t.Run(fmt.Sprintf("buffered=%v", buffered), func(t *testing.T) {
			be := newCountingBackend(t)
			p := newTestProxy(t, Options{})
			spec := oneSet("web", "v1", TargetSpec{ID: "b", Addr: be.addr})
			spec.BodyReadTimeout = 300 * time.Millisecond
			spec.BufferRequests = buffered
			if err := p.Apply([]ServiceSpec{spec}); err != nil {
				t.Fatal(err)
			}
			srv, _ := startServer(t, p, ServerOptions{})
			addr := srv.HTTPAddr().String()

			const clients = 100
			var wg sync.WaitGroup
			errs := make(chan string, clients)
			for range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					status, closed, err := slowClient(addr, 0)
					switch {
					case err != nil:
						errs <- err.Error()
					case !strings.HasPrefix(status, "408") || !closed:
						errs <- fmt.Sprintf("got %q, closed %v; want 408 and closed", status, closed)
					}
				}()
			}
			wg.Wait()
			close(errs)
			for e := range errs {
				t.Error(e)
			}
			waitFor(t, 5*time.Second, "the upstream connections to close", func() bool { return be.open.Load() == 0 })
			t.Logf("upstream connections: peak %d while the bodies trickled, %d after the timeout", be.peak.Load(), be.open.Load())
			if buffered && (be.peak.Load() != 0 || be.requests.Load() != 0) {
				t.Errorf("buffered: the upstream saw %d connections and %d requests, want 0", be.peak.Load(), be.requests.Load())
			}
			if !buffered && be.peak.Load() == 0 {
				t.Error("unbuffered: the upstream never saw the requests; the test proves nothing")
			}
		})
	}
}

func TestMinBodyRate(t *testing.T) {
	be := newCountingBackend(t)
	p := newTestProxy(t, Options{})
	spec := oneSet("web", "v1", TargetSpec{ID: "b", Addr: be.addr})
	spec.BodyReadTimeout = 5 * time.Second
	spec.MinBodyRate = 1000
	spec.MinBodyRateWindow = 300 * time.Millisecond
	if err := p.Apply([]ServiceSpec{spec}); err != nil {
		t.Fatal(err)
	}
	srv, _ := startServer(t, p, ServerOptions{})
	start := time.Now()
	// 20 bytes per second, never idle for long.
	status, closed, err := slowClient(srv.HTTPAddr().String(), 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(status, "408") || !closed {
		t.Fatalf("got %q, closed %v; want 408 and closed", status, closed)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("refused after %v; the rate window is 300ms", d)
	}
	waitFor(t, 5*time.Second, "the upstream connection to close", func() bool { return be.open.Load() == 0 })
}

func TestBufferedBodyIsForwardedWhole(t *testing.T) {
	be := newCountingBackend(t)
	p := newTestProxy(t, Options{})
	spec := oneSet("web", "v1", TargetSpec{ID: "b", Addr: be.addr})
	spec.BufferRequests = true
	spec.MaxBodyBytes = 1000
	if err := p.Apply([]ServiceSpec{spec}); err != nil {
		t.Fatal(err)
	}
	srv, _ := startServer(t, p, ServerOptions{})
	addr := srv.HTTPAddr().String()
	v := rawExchange(t, addr, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
	if v.status != 200 || v.body != "read 5 /" || !v.served {
		t.Errorf("chunked body: %d %q served-after=%v; want 200 \"read 5 /\" and the connection kept", v.status, v.body, v.served)
	}
	v = rawExchange(t, addr, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3e9\r\n"+strings.Repeat("x", 1001)+"\r\n0\r\n\r\n")
	if v.status != 413 {
		t.Errorf("body over the cap: %d %q, want 413", v.status, v.body)
	}
}
