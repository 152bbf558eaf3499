package proxy

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// rawBackend accepts connections and hands each to serve, for upstream
// behaviour net/http would not produce.
func rawBackend(t *testing.T, serve func(c net.Conn, br *bufio.Reader)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(c, bufio.NewReader(c))
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// readRequest reads one request and discards its body.
func readRequest(br *bufio.Reader) (*http.Request, error) {
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, req.Body)
	return req, nil
}

func proxyTo(t *testing.T, addr string) (*Proxy, string) {
	t.Helper()
	p := newTestProxy(t, Options{})
	if err := p.Apply([]ServiceSpec{oneSet("web", "v1", TargetSpec{ID: "b", Addr: addr})}); err != nil {
		t.Fatal(err)
	}
	_, base := startServer(t, p, ServerOptions{})
	return p, base
}

func TestUpstreamResponseFraming(t *testing.T) {
	addr := rawBackend(t, func(c net.Conn, br *bufio.Reader) {
		for {
			req, err := readRequest(br)
			if err != nil {
				return
			}
			switch req.URL.Path {
			case "/chunked-trailer":
				io.WriteString(c, "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntrailer: X-Sum\r\ncontent-type: text/plain\r\n\r\n"+
					"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 42\r\n\r\n")
			case "/hop":
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: X-Private\r\nX-Private: secret\r\n"+
					"Keep-Alive: timeout=5\r\nset-cookie: a=1\r\nSet-Cookie: b=2\r\nX-Public: yes\r\n\r\nok")
			case "/continue":
				io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"+
					"HTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\ndone")
			case "/no-content":
				io.WriteString(c, "HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n")
			case "/head":
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
			case "/until-close":
				io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it")
				return
			case "/malformed":
				io.WriteString(c, "HTTP/1.1 abc\r\n\r\n")
				return
			}
		}
	})
	_, base := proxyTo(t, addr)
	c := newClient(true)
	get := func(method, path string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s %s body: %v", method, path, err)
		}
		return resp, string(body)
	}

	resp, body := get("GET", "/chunked-trailer")
	if body != "hello world" || resp.Trailer.Get("X-Sum") != "42" || resp.Header.Get("Content-Type") != "text/plain" {
		t.Errorf("chunked: %q trailer %v header %v", body, resp.Trailer, resp.Header)
	}
	resp, body = get("GET", "/hop")
	if body != "ok" || resp.Header.Get("X-Private") != "" || resp.Header.Get("Keep-Alive") != "" || resp.Header.Get("X-Public") != "yes" {
		t.Errorf("hop-by-hop: %q %v", body, resp.Header)
	}
	if got := resp.Header.Values("Set-Cookie"); len(got) != 2 || got[0] != "a=1" || got[1] != "b=2" {
		t.Errorf("Set-Cookie %v", got)
	}
	resp, body = get("POST", "/continue")
	if resp.StatusCode != 201 || body != "done" {
		t.Errorf("interim responses: %d %q", resp.StatusCode, body)
	}
	resp, body = get("GET", "/no-content")
	if resp.StatusCode != 204 || body != "" || resp.Header.Get("X-A") != "1" {
		t.Errorf("204: %d %q", resp.StatusCode, body)
	}
	resp, body = get("HEAD", "/head")
	if resp.StatusCode != 200 || body != "" || resp.ContentLength != 1000 {
		t.Errorf("HEAD: %d %q %d", resp.StatusCode, body, resp.ContentLength)
	}
	resp, body = get("GET", "/until-close")
	if resp.StatusCode != 200 || body != "all of it" {
		t.Errorf("until close: %d %q", resp.StatusCode, body)
	}
	resp, body = get("GET", "/malformed")
	if resp.StatusCode != 502 {
		t.Errorf("malformed: %d %q", resp.StatusCode, body)
	}
}

func TestRequestForwardedExactly(t *testing.T) {
	got := make(chan string, 1)
	addr := rawBackend(t, func(c net.Conn, br *bufio.Reader) {
		var head bytes.Buffer
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			head.WriteString(line)
			if line == "\r\n" {
				break
			}
		}
		got <- head.String()
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	})
	_, base := proxyTo(t, addr)
	req, _ := http.NewRequest("GET", base+"/a%2Fb/c?x=1&y=%20", nil)
	req.Host = "app.test"
	resp, err := newClient(false).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	head := <-got
	if !strings.HasPrefix(head, "GET /a%2Fb/c?x=1&y=%20 HTTP/1.1\r\nHost: app.test\r\n") {
		t.Fatalf("request head:\n%s", head)
	}
}

func TestStaleKeepAliveConnections(t *testing.T) {
	// The backend closes every connection right after one response, without
	// announcing it: each pooled connection is stale when reused. (A close
	// racing with the next request cannot be detected by any proxy; the
	// test waits until the backend has closed.)
	var hits atomic.Int32
	closed := make(chan struct{}, 1)
	addr := rawBackend(t, func(c net.Conn, br *bufio.Reader) {
		if _, err := readRequest(br); err != nil {
			return
		}
		hits.Add(1)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		c.Close()
		closed <- struct{}{}
	})
	_, base := proxyTo(t, addr)
	c := newClient(true)
	for i := 0; i < 20; i++ {
		var resp *http.Response
		var err error
		if i%2 == 0 {
			resp, err = c.Post(base+"/", "text/plain", strings.NewReader("body"))
		} else {
			resp, err = c.Get(base + "/")
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "ok" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
		<-closed
	}
	if n := hits.Load(); n != 20 {
		t.Fatalf("backend served %d requests for 20", n)
	}
}

func TestLargeBodiesBothWays(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		if r.URL.Query().Get("chunked") == "" {
			w.Header().Set("Content-Length", fmt.Sprint(n+64))
		}
		fmt.Fprintf(w, "%x", h.Sum(nil))
		io.CopyN(w, zeroReader{}, n)
	}))
	t.Cleanup(be.Close)
	_, base := proxyTo(t, addrOf(be))
	c := newClient(true)
	for _, size := range []int{0, 1, syncBodyMax, syncBodyMax + 1, 3 << 20} {
		for _, chunked := range []bool{false, true} {
			payload := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
			var body io.Reader = bytes.NewReader(payload)
			if chunked {
				body = io.MultiReader(body) // hides the length: sent chunked
			}
			url := base + "/"
			if chunked {
				url += "?chunked=1"
			}
			resp, err := c.Post(url, "application/octet-stream", body)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			sum := sha256.Sum256(payload)
			if err != nil || len(got) != 64+size || string(got[:64]) != fmt.Sprintf("%x", sum) {
				t.Fatalf("size %d chunked %v: %d bytes, %v", size, chunked, len(got), err)
			}
		}
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestEarlyResponseBeforeBody(t *testing.T) {
	// The backend rejects a large upload without reading it.
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		http.Error(w, "too big for me", http.StatusRequestEntityTooLarge)
	}))
	t.Cleanup(be.Close)
	_, base := proxyTo(t, addrOf(be))
	resp, err := newClient(false).Post(base+"/", "application/octet-stream", io.MultiReader(bytes.NewReader(make([]byte, 8<<20))))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 413 || !strings.Contains(string(body), "too big for me") {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
}

func TestEarlyResponseWhileClientStillUploading(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no thanks", http.StatusForbidden)
	}))
	t.Cleanup(be.Close)
	_, base := proxyTo(t, addrOf(be))
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Announce a large body, send a little of it and stall: the answer
	// must still come through.
	fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", 8<<20)
	conn.Write(make([]byte, 100<<10))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 100))
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "no thanks") {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
}
