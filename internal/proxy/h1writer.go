package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// h1Writer is the http.ResponseWriter of the HTTP/1.1 loop, reused for
// every request of a connection. It also offers what
// http.ResponseController looks for: Flush, Hijack, SetReadDeadline,
// SetWriteDeadline and EnableFullDuplex (reading the request body while
// the response is written is always allowed).
//
// A response is framed by the handler's Content-Length; without one a
// short response (pendMax) that ends without a flush gets a computed
// Content-Length, a longer one is chunked (HTTP/1.1) or ends with the
// connection (HTTP/1.0). Trailers are the header keys with
// http.TrailerPrefix set after the head, sent with a chunked body. Unlike
// net/http no Content-Type is sniffed: the proxy passes on what the
// upstream sent.
type h1Writer struct {
	c   *h1Conn
	hdr http.Header

	status      int
	wroteHeader bool // the final status is set
	committed   bool // the head is written
	chunked     bool
	closeAfter  bool
	noBody      bool // HEAD, 1xx, 204 and 304
	headReq     bool
	cl          int64 // declared length, -1: none
	written     int64
	pend        []byte
	// broken is set when a write to the client failed.
	broken bool
}

func (w *h1Writer) reset(c *h1Conn) {
	if w.hdr == nil {
		w.hdr = make(http.Header, 8)
	} else {
		clear(w.hdr)
	}
	*w = h1Writer{c: c, hdr: w.hdr, cl: -1, pend: w.pend[:0], headReq: c.h.method == http.MethodHead,
		closeAfter: c.h.wantsClose}
}

// Header returns the response header map.
func (w *h1Writer) Header() http.Header { return w.hdr }

// WriteHeader sets the status; a 1xx other than 101 is sent at once.
func (w *h1Writer) WriteHeader(code int) {
	if w.wroteHeader || w.c.hijacked {
		return
	}
	if code < 100 || code > 999 {
		panic("invalid WriteHeader code " + strconv.Itoa(code))
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		c := w.c
		c.continueMu.Lock()
		c.ensureOut()
		c.out = appendStatusLine(c.out, code)
		c.out = w.appendHeader(c.out)
		c.out = append(c.out, "\r\n"...)
		if err := c.flushOut(); err != nil {
			w.broken = true
		}
		c.continueMu.Unlock()
		return
	}
	w.wroteHeader = true
	w.status = code
	if w.headReq || code < 200 || code == http.StatusNoContent || code == http.StatusNotModified {
		w.noBody = true
	}
	if v := w.hdr["Content-Length"]; len(v) > 0 {
		if n, ok := parseContentLength([]byte(strings.TrimSpace(v[0]))); ok {
			w.cl = n
		} else {
			delete(w.hdr, "Content-Length")
		}
	}
}

// Write writes body bytes, sending the head first.
func (w *h1Writer) Write(p []byte) (int, error) {
	if w.c.hijacked {
		return 0, http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.noBody {
		if w.headReq {
			return len(p), nil
		}
		return 0, http.ErrBodyNotAllowed
	}
	if w.broken {
		return 0, net.ErrClosed
	}
	if !w.committed {
		if w.cl < 0 && len(w.pend)+len(p) <= pendMax {
			w.pend = append(w.pend, p...)
			return len(p), nil
		}
		if err := w.commit(false); err != nil {
			return 0, err
		}
		if len(w.pend) > 0 {
			pend := w.pend
			w.pend = w.pend[:0]
			if _, err := w.writeBody(pend); err != nil {
				return 0, err
			}
		}
	}
	return w.writeBody(p)
}

func (w *h1Writer) writeBody(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c := w.c
	var err error
	n := len(p)
	switch {
	case w.chunked:
		c.out = strconv.AppendInt(c.out, int64(len(p)), 16)
		c.out = append(c.out, "\r\n"...)
		err = c.writeOut(p)
		c.out = append(c.out, "\r\n"...)
	case w.cl >= 0 && w.written+int64(n) > w.cl:
		n = int(w.cl - w.written)
		if n > 0 {
			err = c.writeOut(p[:n])
		}
		w.written += int64(n)
		if err == nil {
			err = http.ErrContentLength
		}
		return n, err
	default:
		err = c.writeOut(p)
	}
	w.written += int64(n)
	if err != nil {
		w.broken = true
		return 0, err
	}
	return n, nil
}

// commit writes the status line and headers, deciding the framing; done
// is set when the handler has returned, so the whole body is in w.pend.
func (w *h1Writer) commit(done bool) error {
	c := w.c
	c.ensureOut()
	if c.h.expectContinue {
		c.continueMu.Lock()
		w.committed = true
		if !c.sentContinue {
			// The body was never asked for: the client may or may not
			// send it, so the connection cannot be reused.
			w.closeAfter = true
		}
		c.continueMu.Unlock()
	} else {
		w.committed = true
	}
	if done && !w.closeAfter && !c.body.eof && !c.discardBody() {
		w.closeAfter = true
	}
	if cv := w.hdr["Connection"]; len(cv) > 0 && hasToken(cv, "close") {
		w.closeAfter = true
	}
	if !w.noBody && w.cl < 0 {
		switch {
		case done && c.h.minor >= 1 && w.hasTrailers():
			// Trailers need a chunked body, however short it is.
			w.chunked = true
		case done:
			w.cl = int64(len(w.pend))
			w.hdr["Content-Length"] = nil // written below from w.cl
		case c.h.minor >= 1:
			w.chunked = true
		default:
			w.closeAfter = true
		}
	}
	out := appendStatusLine(c.out, w.status)
	out = w.appendHeader(out)
	if _, ok := w.hdr["Date"]; !ok {
		out = append(out, "Date: "...)
		out = append(out, httpDate()...)
		out = append(out, "\r\n"...)
	}
	if w.cl >= 0 && len(w.hdr["Content-Length"]) == 0 && (!w.noBody || w.headReq) &&
		w.status >= 200 && w.status != http.StatusNoContent && w.status != http.StatusNotModified {
		out = append(out, "Content-Length: "...)
		out = strconv.AppendInt(out, w.cl, 10)
		out = append(out, "\r\n"...)
	}
	if w.chunked {
		out = append(out, "Transfer-Encoding: chunked\r\n"...)
	}
	if w.c.hs.s.draining.Load() {
		w.closeAfter = true
	}
	if _, ok := w.hdr["Connection"]; !ok {
		switch {
		case w.closeAfter:
			out = append(out, "Connection: close\r\n"...)
		case c.h.keepAlive10:
			out = append(out, "Connection: keep-alive\r\n"...)
		}
	}
	c.out = append(out, "\r\n"...)
	return nil
}

// appendHeader appends the header lines of w.hdr, leaving out trailers,
// the framing headers the writer sets itself and invalid names; CR and LF
// in values become spaces.
func (w *h1Writer) appendHeader(out []byte) []byte {
	for k, vv := range w.hdr {
		switch k {
		case "Transfer-Encoding", "Trailer":
			continue
		case "Content-Length":
			if len(vv) == 0 || w.cl < 0 {
				continue
			}
			vv = vv[:1]
		}
		if strings.HasPrefix(k, http.TrailerPrefix) || !validFieldName(k) {
			continue
		}
		for _, v := range vv {
			out = append(out, k...)
			out = append(out, ": "...)
			out = appendFieldValue(out, v)
			out = append(out, "\r\n"...)
		}
	}
	return out
}

func validFieldName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !isTokenByte(k[i]) {
			return false
		}
	}
	return true
}

func appendFieldValue(out []byte, v string) []byte {
	start := len(out)
	out = append(out, v...)
	for i := start; i < len(out); i++ {
		if out[i] == '\r' || out[i] == '\n' {
			out[i] = ' '
		}
	}
	return out
}

// finish ends the response after the handler returned: the head if not
// sent yet, a pending body, the last chunk and trailers, and writes it
// all.
func (w *h1Writer) finish() {
	c := w.c
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		_ = w.commit(true)
		if len(w.pend) > 0 && !w.headReq {
			if _, err := w.writeBody(w.pend); err != nil {
				w.broken = true
				return
			}
		}
	} else if !c.body.eof && !w.closeAfter && !c.discardBody() {
		w.closeAfter = true
	}
	if w.chunked {
		c.out = append(c.out, "0\r\n"...)
		for k, vv := range w.hdr {
			if tk, ok := strings.CutPrefix(k, http.TrailerPrefix); ok && validFieldName(tk) {
				for _, v := range vv {
					c.out = append(c.out, tk...)
					c.out = append(c.out, ": "...)
					c.out = appendFieldValue(c.out, v)
					c.out = append(c.out, "\r\n"...)
				}
			}
		}
		c.out = append(c.out, "\r\n"...)
	}
	if w.cl >= 0 && !w.noBody && w.written < w.cl {
		// The handler wrote less than it declared: the client cannot
		// frame another response.
		w.closeAfter = true
	}
	if err := c.flushOut(); err != nil {
		w.broken = true
	}
}

// discardBody reads and drops what is left of the request body, up to
// maxPostHandlerRead; it reports whether the body's end was reached.
func (c *h1Conn) discardBody() bool {
	if c.body.eof {
		return true
	}
	if c.body.err != nil {
		return false
	}
	var n int64
	var scratch [512]byte
	for n <= maxPostHandlerRead {
		k, err := c.body.Read(scratch[:])
		n += int64(k)
		if err != nil {
			return c.body.eof
		}
	}
	return false
}

// Flush sends the head and everything written so far.
func (w *h1Writer) Flush() { _ = w.FlushError() }

// FlushError is Flush reporting the write error.
func (w *h1Writer) FlushError() error {
	if w.c.hijacked {
		return http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		if err := w.commit(false); err != nil {
			return err
		}
		if len(w.pend) > 0 {
			pend := w.pend
			w.pend = w.pend[:0]
			if _, err := w.writeBody(pend); err != nil {
				return err
			}
		}
	}
	if err := w.c.flushOut(); err != nil {
		w.broken = true
		return err
	}
	return nil
}

// Hijack hands the connection over (for a protocol switch).
func (w *h1Writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return w.c.hijack()
}

// SetReadDeadline bounds reads of the request body.
func (w *h1Writer) SetReadDeadline(t time.Time) error { return w.c.raw.SetReadDeadline(t) }

// SetWriteDeadline bounds writes of the response.
func (w *h1Writer) SetWriteDeadline(t time.Time) error { return w.c.raw.SetWriteDeadline(t) }

// EnableFullDuplex allows reading the body after the response began; the
// loop always does.
func (w *h1Writer) EnableFullDuplex() error { return nil }

// appendStatusLine appends "HTTP/1.1 <code> <text>\r\n".
func appendStatusLine(out []byte, code int) []byte {
	out = append(out, "HTTP/1.1 "...)
	out = strconv.AppendInt(out, int64(code), 10)
	out = append(out, ' ')
	if t := http.StatusText(code); t != "" {
		out = append(out, t...)
	} else {
		out = append(out, "status code "...)
		out = strconv.AppendInt(out, int64(code), 10)
	}
	return append(out, "\r\n"...)
}

// dateCache holds the Date header value of the current second.
type dateValue struct {
	sec int64
	s   string
}

var dateCache atomic.Pointer[dateValue]

// httpDate returns the current time as an HTTP date, formatted once a
// second.
func httpDate() string {
	now := time.Now()
	if d := dateCache.Load(); d != nil && d.sec == now.Unix() {
		return d.s
	}
	d := &dateValue{sec: now.Unix(), s: now.UTC().Format(http.TimeFormat)}
	dateCache.Store(d)
	return d.s
}

// ReadFrom sends a body read from src. With a declared Content-Length it
// goes straight to the connection after the head, so that a file goes
// out with sendfile; otherwise it is written as by Write.
func (w *h1Writer) ReadFrom(src io.Reader) (int64, error) {
	if w.c.hijacked {
		return 0, http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.noBody || w.broken || w.cl < 0 || w.chunked {
		return io.Copy(writerOnly{w}, src)
	}
	if err := w.FlushError(); err != nil {
		return 0, err
	}
	rf, ok := w.c.raw.(io.ReaderFrom)
	if !ok {
		return io.Copy(writerOnly{w}, src)
	}
	// Keep a file reachable for sendfile: it looks through one
	// *io.LimitedReader only (http.ServeContent already wraps the file in
	// one).
	remain := w.cl - w.written
	if lr, ok := src.(*io.LimitedReader); ok {
		lr.N = min(lr.N, remain)
	} else {
		src = io.LimitReader(src, remain)
	}
	n, err := rf.ReadFrom(src)
	w.written += n
	if err != nil {
		w.broken = true
	}
	return n, err
}

// writerOnly hides a writer's ReadFrom from io.Copy.
type writerOnly struct{ io.Writer }

// hasTrailers reports whether the handler declared trailers (a Trailer
// header) or set any (http.TrailerPrefix keys).
func (w *h1Writer) hasTrailers() bool {
	if len(w.hdr["Trailer"]) > 0 {
		return true
	}
	for k := range w.hdr {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			return true
		}
	}
	return false
}
