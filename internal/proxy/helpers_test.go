package proxy

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// testLogger returns a logger that writes to the test log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

func newTestProxy(t testing.TB, opts Options) *Proxy {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	p, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

// startServer serves h on a loopback listener and returns its base URL.
func startServer(t testing.TB, h http.Handler, opts ServerOptions) (*Server, string) {
	t.Helper()
	if opts.HTTPAddr == "" && opts.HTTPSAddr == "" {
		opts.HTTPAddr = "127.0.0.1:0"
	}
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	s, err := NewServer(h, opts)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	base := ""
	if a := s.HTTPAddr(); a != nil {
		base = "http://" + a.String()
	}
	return s, base
}

// nameBackend returns a backend answering every request with its name.
func nameBackend(t testing.TB, name string) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Backend", name)
		_, _ = io.WriteString(w, name)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func addrOf(ts *httptest.Server) string { return ts.Listener.Addr().String() }

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// oneSet returns a single-version service spec over the given targets.
func oneSet(name, version string, targets ...TargetSpec) ServiceSpec {
	return ServiceSpec{Name: name, Active: Set{Version: version, Targets: targets}}
}

// newClient returns a client whose transport never retries: keep-alive
// connections are not reused when keepAlive is false.
func newClient(keepAlive bool) *http.Client {
	tr := &http.Transport{
		DisableKeepAlives:   !keepAlive,
		MaxIdleConnsPerHost: 64,
	}
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

// get sends a request through h directly and returns the recorder.
func serve(h http.Handler, method, target string, hdr http.Header) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	for k, vv := range hdr {
		r.Header[k] = vv
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// httptestEcho returns a backend answering with the request URI it got and
// copying the request headers into the response as "Echo-<Name>".
func httptestEcho(t testing.TB) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, vv := range r.Header {
			w.Header()["Echo-"+k] = vv
		}
		w.Header().Set("Echo-Host", r.Host)
		_, _ = io.WriteString(w, r.RequestURI)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func newJSONLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, nil))
}
