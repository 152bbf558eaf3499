package health

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// serverAddr returns the host:port of srv.
func serverAddr(srv *httptest.Server) string { return srv.Listener.Addr().String() }

// closedAddr returns a loopback address with nothing listening on it.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestProbeHTTPStatusRanges(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		if code == 302 {
			w.Header().Set("Location", "/200")
		}
		w.WriteHeader(code)
	}))
	defer srv.Close()

	tests := []struct {
		status   int
		min, max int
		healthy  bool
	}{
		{200, 0, 0, true},
		{204, 0, 0, true},
		{302, 0, 0, true}, // a redirect is a status, not followed
		{399, 0, 0, true},
		{404, 0, 0, false},
		{503, 0, 0, false},
		{302, 200, 299, false},
		{204, 204, 204, true},
		{200, 204, 204, false},
		{503, 500, 599, true},
	}
	for _, tt := range tests {
		c := Check{Path: "/" + strconv.Itoa(tt.status), StatusMin: tt.min, StatusMax: tt.max}
		r := Probe(context.Background(), c, serverAddr(srv))
		if r.Healthy != tt.healthy || r.Status != tt.status || r.Err != "" || r.Attempts != 1 {
			t.Errorf("status %d range %d-%d: %+v", tt.status, tt.min, tt.max, r)
		}
		if r.Duration <= 0 {
			t.Errorf("Duration = %v", r.Duration)
		}
	}
}

func TestProbeHTTPRequestShape(t *testing.T) {
	var (
		mu     sync.Mutex
		got    *http.Request
		states = make(chan http.ConnState, 16)
	)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = r.Clone(context.Background())
		mu.Unlock()
		w.Write([]byte("ok"))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) { states <- s }
	srv.Start()
	defer srv.Close()

	r := Probe(context.Background(), Check{Path: "/healthz?full=1", Host: "shop.example.com"}, serverAddr(srv))
	if !r.Healthy || r.Body != "ok" {
		t.Fatalf("probe: %+v", r)
	}
	mu.Lock()
	defer mu.Unlock()
	if got.Method != http.MethodGet || got.URL.Path != "/healthz" || got.URL.RawQuery != "full=1" {
		t.Errorf("request %s %s", got.Method, got.URL)
	}
	if got.Host != "shop.example.com" {
		t.Errorf("Host = %q", got.Host)
	}
	if ua := got.Header.Get("User-Agent"); ua != "cutover-health" {
		t.Errorf("User-Agent = %q", ua)
	}
	// The probe keeps no idle connection: the server sees it closed.
	timeout := time.After(5 * time.Second)
	for {
		select {
		case s := <-states:
			if s == http.StateClosed {
				return
			}
		case <-timeout:
			t.Fatal("probe connection was not closed")
		}
	}
}

func TestProbeHTTPBodyExcerpt(t *testing.T) {
	long := strings.Repeat("x", 10000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		if r.URL.Path == "/long" {
			w.Write([]byte(long))
			return
		}
		w.Write([]byte("  database unreachable\n"))
	}))
	defer srv.Close()

	r := Probe(context.Background(), Check{Path: "/long"}, serverAddr(srv))
	if r.Healthy || r.Status != 503 || len(r.Body) != MaxBodyExcerpt {
		t.Fatalf("long body: healthy=%v status=%d len(body)=%d", r.Healthy, r.Status, len(r.Body))
	}
	r = Probe(context.Background(), Check{Path: "/short"}, serverAddr(srv))
	if r.Body != "database unreachable" {
		t.Fatalf("Body = %q", r.Body)
	}
	if want := `last probe: status 503, body "database unreachable"`; r.Reason() != want {
		t.Fatalf("Reason = %q, want %q", r.Reason(), want)
	}
}

func TestProbeHTTPPortOverride(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(serverAddr(srv))
	p, _ := strconv.Atoi(port)

	dead := closedAddr(t)
	if r := Probe(context.Background(), Check{}, dead); r.Healthy {
		t.Fatalf("closed port probed healthy: %+v", r)
	}
	if r := Probe(context.Background(), Check{Port: p}, dead); !r.Healthy || r.Status != 200 {
		t.Fatalf("port override: %+v", r)
	}
	if r := Probe(context.Background(), Check{Type: TypeTCP, Port: p}, dead); !r.Healthy {
		t.Fatalf("tcp port override: %+v", r)
	}
}

func TestProbeHTTPTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)

	r := Probe(context.Background(), Check{Timeout: 50 * time.Millisecond}, serverAddr(srv))
	if r.Healthy || r.Status != 0 {
		t.Fatalf("probe: %+v", r)
	}
	want := "last probe: no answer from " + serverAddr(srv) + " within 50ms"
	if r.Reason() != want {
		t.Fatalf("Reason = %q, want %q", r.Reason(), want)
	}
}

func TestProbeHTTPRefused(t *testing.T) {
	addr := closedAddr(t)
	r := Probe(context.Background(), Check{}, addr)
	if r.Healthy || !strings.HasPrefix(r.Reason(), "last probe: dial tcp "+addr) ||
		!strings.Contains(r.Reason(), "connection refused") {
		t.Fatalf("Reason = %q", r.Reason())
	}
}

func TestProbeTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		if conn, err := ln.Accept(); err == nil {
			conn.Close()
		}
	}()
	r := Probe(context.Background(), Check{Type: TypeTCP}, ln.Addr().String())
	if !r.Healthy || r.Status != 0 || r.Reason() != "last probe: connected" {
		t.Fatalf("probe: %+v reason %q", r, r.Reason())
	}
	<-accepted

	addr := closedAddr(t)
	r = Probe(context.Background(), Check{Type: TypeTCP}, addr)
	if r.Healthy || !strings.Contains(r.Err, "connection refused") {
		t.Fatalf("closed port: %+v", r)
	}
}

func TestProbeInvalidCheckAndCanceledContext(t *testing.T) {
	if r := Probe(context.Background(), Check{Type: "udp"}, "127.0.0.1:1"); r.Healthy || !strings.Contains(r.Err, "invalid health check") {
		t.Fatalf("invalid check: %+v", r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	if r := Probe(ctx, Check{}, serverAddr(srv)); r.Healthy || r.Err == "" {
		t.Fatalf("canceled: %+v", r)
	}
}

func TestReason(t *testing.T) {
	tests := []struct {
		r    Result
		want string
	}{
		{Result{}, "no probe completed"},
		{Result{Attempts: 1, Status: 200, Healthy: true}, "last probe: status 200"},
		{Result{Attempts: 1, Err: "dial tcp 127.0.0.1:1: connect: connection refused"}, "last probe: dial tcp 127.0.0.1:1: connect: connection refused"},
		{Result{Attempts: 1, Status: 503, Body: `{"ok":false}`}, `last probe: status 503, body "{\"ok\":false}"`},
		{Result{Attempts: 1, Healthy: true}, "last probe: connected"},
		{Result{Attempts: 1}, "last probe: failed"},
	}
	for _, tt := range tests {
		if got := tt.r.Reason(); got != tt.want {
			t.Errorf("Reason(%+v) = %q, want %q", tt.r, got, tt.want)
		}
	}
}
