package proxy

import (
	"bytes"
	"net"
	"net/http"
	"strconv"
	"testing"
)

// BenchmarkParseRequestHead measures parsing a typical browser request
// head; it allocates nothing.
func BenchmarkParseRequestHead(b *testing.B) {
	src := []byte("GET /static/app.js?v=3 HTTP/1.1\r\nHost: shop.example\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nAccept: */*\r\n" +
		"Accept-Encoding: gzip, deflate, br\r\nAccept-Language: en-GB,en;q=0.9\r\n" +
		"Cookie: session=0123456789abcdef\r\nConnection: keep-alive\r\n\r\n")
	head := make([]byte, len(src))
	var h h1Head
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		copy(head, src)
		if err := parseRequestHead(head, &h); err != nil {
			b.Fatal(err.reason)
		}
	}
}

// BenchmarkServerLoop measures the public listener alone: one keep-alive
// client sends a request and reads the 100-byte response, served by a
// handler that writes a fixed body. "h1" is the HTTP/1.1 loop, "nethttp"
// net/http's server behind the framing guard. allocs/op counts the
// server's allocations per request (the client allocates nothing).
func BenchmarkServerLoop(b *testing.B) {
	body := []byte(benchBody)
	cl := []string{strconv.Itoa(len(body))}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Length"] = cl
		_, _ = w.Write(body)
	})
	for _, tc := range []struct {
		name    string
		netHTTP bool
	}{{"h1", false}, {"nethttp", true}} {
		b.Run(tc.name, func(b *testing.B) {
			s, _ := startServer(b, h, ServerOptions{NetHTTP1: tc.netHTTP})
			c, err := net.Dial("tcp", s.HTTPAddr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			req := []byte("GET /hello HTTP/1.1\r\nHost: bench.test\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
			buf := make([]byte, 4096)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Write(req); err != nil {
					b.Fatal(err)
				}
				if err := readOneResponse(c, buf, len(body)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// readOneResponse reads a response head and bodyLen body bytes from c.
func readOneResponse(c net.Conn, buf []byte, bodyLen int) error {
	n := 0
	for {
		m, err := c.Read(buf[n:])
		if err != nil {
			return err
		}
		n += m
		if i := bytes.Index(buf[:n], []byte("\r\n\r\n")); i >= 0 && n >= i+4+bodyLen {
			return nil
		}
	}
}
