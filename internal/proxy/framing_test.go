package proxy

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"testing"
)

// chunkConn is a net.Conn whose reads return the given pieces in order.
type chunkConn struct {
	net.Conn
	pieces [][]byte
}

func (c *chunkConn) Read(p []byte) (int, error) {
	if len(c.pieces) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.pieces[0])
	c.pieces[0] = c.pieces[0][n:]
	if len(c.pieces[0]) == 0 {
		c.pieces = c.pieces[1:]
	}
	return n, nil
}

func (c *chunkConn) RemoteAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// guardOutput returns what a framingGuard passes on for in, split into
// reads of at most split bytes.
func guardOutput(t *testing.T, in string, split int) string {
	t.Helper()
	var pieces [][]byte
	for b := []byte(in); len(b) > 0; {
		n := min(split, len(b))
		pieces = append(pieces, append([]byte(nil), b[:n]...))
		b = b[n:]
	}
	g := newFramingGuard(&chunkConn{pieces: pieces}, 1<<16, slog.New(slog.DiscardHandler))
	var out bytes.Buffer
	buf := make([]byte, 7)
	for {
		n, err := g.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return out.String()
}

func TestFramingGuard(t *testing.T) {
	const get = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
	const reject = "ambiguous-request-framing\r\n\r\n"
	cases := []struct {
		name, in, want string
	}{
		{"keep-alive", get + get + get, get + get + get},
		{"content-length body", "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello" + get, "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello" + get},
		{"body that looks like a head", "POST / HTTP/1.1\r\nContent-Length: 30\r\n\r\nGET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n" + get,
			"POST / HTTP/1.1\r\nContent-Length: 30\r\n\r\nGET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n" + get},
		{"chunked body", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: v\r\n\r\n" + get,
			"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: v\r\n\r\n" + get},
		{"cl and te", get + "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + get, get + reject},
		{"te and cl", "POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n0\r\n\r\n", reject},
		{"two equal lengths", "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", reject},
		{"two te lines", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", reject},
		{"te not ending in chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", reject},
		{"te gzip", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", reject},
		{"te list ending in chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip , Chunked\r\n\r\n0\r\n\r\n",
			"POST / HTTP/1.1\r\nTransfer-Encoding: gzip , Chunked\r\n\r\n0\r\n\r\n"},
		{"obs-fold", "GET / HTTP/1.1\r\nX-A: b\r\n c\r\n\r\n", reject},
		{"h2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\nX: a\r\n b\r\n\r\n", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\nX: a\r\n b\r\n\r\n"},
	}
	for _, tc := range cases {
		for _, split := range []int{1, 3, 5000} {
			if got := guardOutput(t, tc.in, split); got != tc.want {
				t.Errorf("%s (reads of %d): got %q, want %q", tc.name, split, got, tc.want)
			}
		}
	}
}
