package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestHeaderTimeoutOnReusedConnection checks the response header timeout
// that stays armed between requests: a slow head on a reused connection
// still times out, and a body that takes longer than the timeout after a
// prompt head is not cut.
func TestHeaderTimeoutOnReusedConnection(t *testing.T) {
	const timeout = 200 * time.Millisecond
	release := make(chan struct{})
	addr := rawBackend(t, func(c net.Conn, br *bufio.Reader) {
		for {
			req, err := readRequest(br)
			if err != nil {
				return
			}
			switch req.URL.Path {
			case "/fast":
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			case "/slow-body":
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nok")
				time.Sleep(2 * timeout) // the body's pace, not a synchronisation
				io.WriteString(c, "ok")
			case "/slow-head":
				<-release
				return
			}
		}
	})
	t.Cleanup(func() { close(release) }) // before the backend's cleanup waits
	p := newTestProxy(t, Options{})
	spec := oneSet("web", "v1", TargetSpec{ID: "b", Addr: addr})
	spec.ResponseHeaderTimeout = timeout
	if err := p.Apply([]ServiceSpec{spec}); err != nil {
		t.Fatal(err)
	}
	_, base := startServer(t, p, ServerOptions{})
	c := newClient(true)
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := c.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return resp.StatusCode, string(body)
	}
	for i := 0; i < 3; i++ {
		if code, body := get("/fast"); code != 200 || body != "ok" {
			t.Fatalf("/fast: %d %q", code, body)
		}
	}
	if code, body := get("/slow-body"); code != 200 || body != "okok" {
		t.Fatalf("/slow-body: %d %q", code, body)
	}
	if code, body := get("/fast"); code != 200 || body != "ok" {
		t.Fatalf("/fast after the slow body: %d %q", code, body)
	}
	start := time.Now()
	if code, _ := get("/slow-head"); code != http.StatusGatewayTimeout {
		t.Fatalf("/slow-head: %d, want 504", code)
	}
	if d := time.Since(start); d < timeout*7/8 {
		t.Fatalf("/slow-head timed out after %v, before 7/8 of %v", d, timeout)
	}
}
