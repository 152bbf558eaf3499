package proxy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/testutil"
)

func TestForwardedHeaders(t *testing.T) {
	be := httptestEcho(t)
	tests := []struct {
		name    string
		trusted []netip.Prefix
		wantXFF string
		keep    bool
	}{
		{"untrusted", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, "127.0.0.1", false},
		{"trusted", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, "203.0.113.7, 127.0.0.1", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newTestProxy(t, Options{TrustedProxies: tc.trusted})
			if err := p.Apply([]ServiceSpec{oneSet("web", "v1", TargetSpec{ID: "e", Addr: addrOf(be)})}); err != nil {
				t.Fatal(err)
			}
			_, base := startServer(t, p, ServerOptions{})
			req, _ := http.NewRequest("GET", base+"/x", nil)
			req.Host = "shop.test"
			req.Header.Set("X-Forwarded-For", "203.0.113.7")
			req.Header.Set("X-Forwarded-Proto", "https")
			req.Header.Set("X-Forwarded-Host", "lb.test")
			req.Header.Set("X-Request-Id", "lb-id-1")
			req.Header.Set("X-Real-IP", "203.0.113.7")
			req.Header.Set("Forwarded", "for=203.0.113.7;proto=https")
			req.Header.Set("Connection", "keep-alive, X-Secret")
			req.Header.Set("X-Secret", "hop")
			req.Header.Set("Proxy-Authorization", "Basic x")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			h := resp.Header
			if got := h.Get("Echo-X-Forwarded-For"); got != tc.wantXFF {
				t.Errorf("X-Forwarded-For %q, want %q", got, tc.wantXFF)
			}
			wantProto, wantHost := "http", "shop.test"
			if tc.keep {
				wantProto, wantHost = "https", "lb.test"
			}
			if got := h.Get("Echo-X-Forwarded-Proto"); got != wantProto {
				t.Errorf("X-Forwarded-Proto %q, want %q", got, wantProto)
			}
			if got := h.Get("Echo-X-Forwarded-Host"); got != wantHost {
				t.Errorf("X-Forwarded-Host %q, want %q", got, wantHost)
			}
			wantRealIP, wantFwd := "127.0.0.1", ""
			if tc.keep {
				wantRealIP, wantFwd = "203.0.113.7", "for=203.0.113.7;proto=https"
			}
			if got := h.Values("Echo-X-Real-Ip"); len(got) != 1 || got[0] != wantRealIP {
				t.Errorf("X-Real-IP %q, want [%s]", got, wantRealIP)
			}
			if got := h.Get("Echo-Forwarded"); got != wantFwd {
				t.Errorf("Forwarded %q, want %q", got, wantFwd)
			}
			id := h.Get("Echo-X-Request-Id")
			if tc.keep && id != "lb-id-1" {
				t.Errorf("X-Request-Id %q, want kept", id)
			}
			if !tc.keep && (id == "lb-id-1" || len(id) != 32) {
				t.Errorf("X-Request-Id %q, want a new 32-digit id", id)
			}
			if got := h.Get("Echo-Host"); got != "shop.test" {
				t.Errorf("Host %q, want shop.test", got)
			}
			for _, k := range []string{"Echo-X-Secret", "Echo-Proxy-Authorization"} {
				if v := h.Get(k); v != "" {
					t.Errorf("hop-by-hop header %s forwarded: %q", k, v)
				}
			}
		})
	}
}

func TestRequestIDGeneratedWhenMissing(t *testing.T) {
	be := httptestEcho(t)
	p := newTestProxy(t, Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}})
	if err := p.Apply([]ServiceSpec{oneSet("web", "v1", TargetSpec{ID: "e", Addr: addrOf(be)})}); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for i := 0; i < 3; i++ {
		r := httptest.NewRequest("GET", "http://x/", nil)
		r.RemoteAddr = "192.0.2.1:1234"
		w := httptest.NewRecorder()
		p.ServeHTTP(w, r)
		id := w.Header().Get("Echo-X-Request-Id")
		if len(id) != 32 || ids[id] {
			t.Fatalf("request id %q", id)
		}
		ids[id] = true
	}
}

func TestErrorBodies(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(slow.Close)
	p := newTestProxy(t, Options{})
	dead := oneSet("dead", "v1", TargetSpec{ID: "d", Addr: deadAddr(t)})
	dead.Hosts = []string{"dead.test"}
	timeout := oneSet("slow", "v1", TargetSpec{ID: "s", Addr: addrOf(slow)})
	timeout.Hosts = []string{"slow.test"}
	timeout.ResponseHeaderTimeout = 100 * time.Millisecond
	empty := oneSet("empty", "v1")
	empty.Hosts = []string{"empty.test"}
	if err := p.Apply([]ServiceSpec{dead, timeout, empty}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		host   string
		accept string
		status int
		body   string
	}{
		{"dead.test", "", 502, "502 Bad Gateway: upstream unreachable\n"},
		{"dead.test", "text/html, application/json;q=0.9", 502, `{"error":"upstream unreachable","status":502}` + "\n"},
		{"slow.test", "", 504, "504 Gateway Timeout: upstream timed out\n"},
		{"slow.test", "application/json", 504, `{"error":"upstream timed out","status":504}` + "\n"},
		{"empty.test", "", 503, "503 Service Unavailable: no upstream available\n"},
	}
	for _, tc := range tests {
		hdr := http.Header{}
		if tc.accept != "" {
			hdr.Set("Accept", tc.accept)
		}
		w := serve(p, "GET", "http://"+tc.host+"/", hdr)
		if w.Code != tc.status || w.Body.String() != tc.body {
			t.Errorf("%s accept %q: %d %q, want %d %q", tc.host, tc.accept, w.Code, w.Body.String(), tc.status, tc.body)
		}
		wantCT := "text/plain; charset=utf-8"
		if strings.Contains(tc.accept, "json") {
			wantCT = "application/json"
			var v struct {
				Error  string
				Status int
			}
			if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil || v.Status != tc.status {
				t.Errorf("json body %q: %v", w.Body.String(), err)
			}
		}
		if ct := w.Header().Get("Content-Type"); ct != wantCT {
			t.Errorf("content type %q, want %q", ct, wantCT)
		}
	}
}

func TestRetryOnDialFailureOnly(t *testing.T) {
	live := nameBackend(t, "live")
	p := newTestProxy(t, Options{})
	spec := oneSet("web", "v1", TargetSpec{ID: "dead", Addr: deadAddr(t)}, TargetSpec{ID: "live", Addr: addrOf(live)})
	if err := p.Apply([]ServiceSpec{spec}); err != nil {
		t.Fatal(err)
	}
	_, base := startServer(t, p, ServerOptions{})
	c := newClient(false)
	// Round robin starts at either target; a few POSTs certainly hit the
	// dead one first and must all succeed on the live one with their body.
	for i := 0; i < 4; i++ {
		resp, err := c.Post(base+"/", "text/plain", strings.NewReader("payload"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "live" {
			t.Fatalf("POST %d: %d %q", i, resp.StatusCode, body)
		}
	}
	info := p.Services()[0].Active.Targets
	if !info[0].Ejected || info[1].Ejected {
		t.Fatalf("ejection state %+v", info)
	}
}

func TestNoRetryAfterUpstreamGotRequest(t *testing.T) {
	var hits atomic.Int32
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(200)
		_, _ = io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	t.Cleanup(broken.Close)
	other := nameBackend(t, "other")
	p := newTestProxy(t, Options{})
	spec := oneSet("web", "v1", TargetSpec{ID: "b", Addr: addrOf(broken)}, TargetSpec{ID: "o", Addr: addrOf(other)})
	if err := p.Apply([]ServiceSpec{spec}); err != nil {
		t.Fatal(err)
	}
	_, base := startServer(t, p, ServerOptions{})
	c := newClient(false)
	brokenSeen := 0
	for i := 0; i < 4; i++ {
		resp, err := c.Post(base+"/", "text/plain", strings.NewReader("x"))
		if err != nil {
			// The proxy aborted before the headers left its buffer.
			brokenSeen++
			continue
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) == "other" {
			continue
		}
		brokenSeen++
		if err == nil {
			t.Fatalf("truncated response read without error: %q", body)
		}
	}
	if brokenSeen == 0 || int(hits.Load()) != brokenSeen {
		t.Fatalf("broken backend hit %d times for %d broken responses", hits.Load(), brokenSeen)
	}
	if p.Services()[0].Active.Targets[0].Ejected {
		t.Fatal("a target that accepted the connection was ejected")
	}
}

func TestMaxBodyBytes(t *testing.T) {
	be := nameBackend(t, "be")
	p := newTestProxy(t, Options{})
	spec := oneSet("web", "v1", TargetSpec{ID: "b", Addr: addrOf(be)})
	spec.MaxBodyBytes = 1000
	if err := p.Apply([]ServiceSpec{spec}); err != nil {
		t.Fatal(err)
	}
	_, base := startServer(t, p, ServerOptions{})
	c := newClient(false)
	post := func(body io.Reader) int {
		t.Helper()
		resp, err := c.Post(base+"/", "application/octet-stream", body)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(bytes.NewReader(make([]byte, 1000))); code != 200 {
		t.Fatalf("body at the limit: %d", code)
	}
	if code := post(bytes.NewReader(make([]byte, 1001))); code != 413 {
		t.Fatalf("declared oversized body: %d", code)
	}
	// Chunked (no Content-Length): the limit is enforced while streaming.
	if code := post(io.MultiReader(strings.NewReader(strings.Repeat("x", 600)), strings.NewReader(strings.Repeat("y", 600)))); code != 413 {
		t.Fatalf("streamed oversized body: %d", code)
	}
}

func TestSSEFlushedImmediately(t *testing.T) {
	next := make(chan struct{})
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 0; i < 3; i++ {
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
			select {
			case <-next:
			case <-r.Context().Done():
				return
			}
		}
	}))
	t.Cleanup(be.Close)
	p := newTestProxy(t, Options{})
	if err := p.Apply([]ServiceSpec{oneSet("web", "v1", TargetSpec{ID: "b", Addr: addrOf(be)})}); err != nil {
		t.Fatal(err)
	}
	_, base := startServer(t, p, ServerOptions{})
	resp, err := http.Get(base + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for i := 0; i < 3; i++ {
		// Each event arrives before the backend is allowed to continue.
		line, err := br.ReadString('\n')
		if err != nil || line != fmt.Sprintf("data: %d\n", i) {
			t.Fatalf("event %d: %q %v", i, line, err)
		}
		br.ReadString('\n')
		next <- struct{}{}
	}
}

func TestAccessLog(t *testing.T) {
	be := nameBackend(t, "be")
	var buf testutil.SyncBuffer
	log := newJSONLogger(&buf)
	p := newTestProxy(t, Options{Logger: log, AccessLog: true})
	if err := p.Apply([]ServiceSpec{oneSet("web", "v7", TargetSpec{ID: "b1", Addr: addrOf(be)})}); err != nil {
		t.Fatal(err)
	}
	serve(p, "GET", "http://x/hello", nil)
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("log %q: %v", buf.String(), err)
	}
	for k, want := range map[string]any{"msg": "request", "service": "web", "version": "v7", "target": "b1", "status": 200.0, "bytes": 2.0, "path": "/hello"} {
		if rec[k] != want {
			t.Errorf("log %s = %v, want %v", k, rec[k], want)
		}
	}
	if id, _ := rec["request_id"].(string); len(id) != 32 {
		t.Errorf("request_id %v", rec["request_id"])
	}

	buf.Reset()
	quiet := newTestProxy(t, Options{Logger: log})
	if err := quiet.Apply([]ServiceSpec{oneSet("web", "v7", TargetSpec{ID: "b1", Addr: addrOf(be)})}); err != nil {
		t.Fatal(err)
	}
	serve(quiet, "GET", "http://x/hello", nil)
	if buf.Len() != 0 {
		t.Fatalf("access log written while off: %q", buf.String())
	}
}

func TestHostHeaderWithPortRoutes(t *testing.T) {
	be := nameBackend(t, "be")
	p := newTestProxy(t, Options{})
	spec := oneSet("web", "v1", TargetSpec{ID: "b", Addr: addrOf(be)})
	spec.Hosts = []string{"app.test"}
	if err := p.Apply([]ServiceSpec{spec}); err != nil {
		t.Fatal(err)
	}
	_, base := startServer(t, p, ServerOptions{})
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: APP.test:8080\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "be" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
}

func TestRequestBodyIsStreamed(t *testing.T) {
	gotFirst := make(chan struct{})
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 5)
		if _, err := io.ReadFull(r.Body, buf); err != nil || string(buf) != "first" {
			http.Error(w, "bad first chunk", 400)
			return
		}
		close(gotFirst)
		rest, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, string(buf)+string(rest))
	}))
	t.Cleanup(be.Close)
	p := newTestProxy(t, Options{})
	if err := p.Apply([]ServiceSpec{oneSet("web", "v1", TargetSpec{ID: "b", Addr: addrOf(be)})}); err != nil {
		t.Fatal(err)
	}
	_, base := startServer(t, p, ServerOptions{})
	pr, pw := io.Pipe()
	go func() {
		_, _ = io.WriteString(pw, "first")
		// The rest is sent only once the backend has the first chunk, which
		// deadlocks (and times out) if the proxy buffers the body.
		select {
		case <-gotFirst:
			_, _ = io.WriteString(pw, "+rest")
			pw.Close()
		case <-time.After(10 * time.Second):
			pw.CloseWithError(fmt.Errorf("backend never saw the first chunk"))
		}
	}()
	resp, err := newClient(false).Post(base+"/", "text/plain", pr)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "first+rest" {
		t.Fatalf("body %q", body)
	}
}
