package proxy

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strconv"
)

// net/http answers a request it cannot parse itself, before any handler
// runs and without a hook: 431 when the headers exceed MaxHeaderBytes, 400
// for a malformed request, 501 for an unsupported transfer encoding. It
// writes the whole answer in one Write on the connection, as
// "HTTP/1.1 <code> <text>" followed by exactly these headers. Responses
// of handlers always carry Date or a body length, so they never match.
var listenerErrorHeaders = []byte("\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n")

// rejectListener wraps the accepted connections of a plain listener so
// that the answers net/http writes on its own are reported to onReject.
// On a TLS listener the bytes are encrypted below net/http, so its
// rejections cannot be seen this way.
type rejectListener struct {
	net.Listener
	onReject func(client string, status int, reason string)
}

// Accept wraps the next connection.
func (l *rejectListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &rejectConn{Conn: c, onReject: l.onReject}, nil
}

// rejectConn reports net/http's own error answers written on it.
type rejectConn struct {
	net.Conn
	onReject func(client string, status int, reason string)
}

// Write writes p, reporting it first if it is a listener rejection.
func (c *rejectConn) Write(p []byte) (int, error) {
	if status, reason, ok := parseListenerError(p); ok {
		c.onReject(c.RemoteAddr().String(), status, reason)
	}
	return c.Conn.Write(p)
}

// CloseWrite half-closes the connection, as net/http does after a
// rejection so that the client reads it before the connection goes.
func (c *rejectConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// parseListenerError recognises an answer net/http wrote by itself and
// returns its status and text.
func parseListenerError(p []byte) (int, string, bool) {
	rest, ok := bytes.CutPrefix(p, []byte("HTTP/1.1 "))
	if !ok || len(rest) < 4 || rest[3] != ' ' || (rest[0] != '4' && rest[0] != '5') {
		return 0, "", false
	}
	status, err := strconv.Atoi(string(rest[:3]))
	if err != nil {
		return 0, "", false
	}
	line, _, ok := bytes.Cut(rest[4:], []byte("\r\n"))
	if !ok || !bytes.HasPrefix(rest[4+len(line):], listenerErrorHeaders) {
		return 0, "", false
	}
	return status, string(line), true
}

// LogRejected writes an access log record, when the access log is on, for
// a request that the listener refused before routing it (431 headers too
// large, 400 malformed). Only the client, status and reason are known.
// It is safe for concurrent use.
func (p *Proxy) LogRejected(client string, status int, reason string) {
	if !p.accessLog {
		return
	}
	p.log.LogAttrs(context.Background(), slog.LevelInfo, "request",
		slog.String("method", ""),
		slog.String("upstream", ""),
		slog.String("no_upstream", "rejected by the listener: "+reason),
		slog.Int("status", status),
		slog.Int64("bytes", 0),
		slog.String("client", client),
	)
}

// ReadFrom passes a body copied from a file on to the connection, so that
// it goes out with sendfile; a body is never a listener's rejection.
func (c *rejectConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}
