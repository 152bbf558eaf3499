package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// TestLongResponseHeaderLines checks that a response header line longer than
// the upstream read buffer is forwarded whole, and that one longer than
// maxHeadLine is refused with 502.
func TestLongResponseHeaderLines(t *testing.T) {
	for _, tc := range []struct {
		name   string
		size   int
		status int
	}{
		{"fits the buffer", 100, http.StatusOK},
		{"several buffers", 5*upstreamReadBufferSize + 17, http.StatusOK},
		{"over the limit", maxHeadLine + 1, http.StatusBadGateway},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cookie := strings.Repeat("c", tc.size)
			addr := rawBackend(t, func(c net.Conn, br *bufio.Reader) {
				for {
					if _, err := readRequest(br); err != nil {
						return
					}
					fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nSet-Cookie: %s\r\nX-After: 1\r\nContent-Length: 2\r\n\r\nok", cookie)
				}
			})
			_, base := proxyTo(t, addr)
			for i := 0; i < 2; i++ { // the second request reuses the connection
				resp, err := newClient(true).Get(base + "/")
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tc.status {
					t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
				}
				if tc.status != http.StatusOK {
					return
				}
				if got := resp.Header.Get("Set-Cookie"); got != cookie {
					t.Fatalf("Set-Cookie has %d bytes, want %d", len(got), len(cookie))
				}
				if resp.Header.Get("X-After") != "1" || string(body) != "ok" {
					t.Fatalf("X-After %q, body %q", resp.Header.Get("X-After"), body)
				}
			}
		})
	}
}
