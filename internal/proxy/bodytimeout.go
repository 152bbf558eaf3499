package proxy

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"time"
)

// Request body defaults.
const (
	// DefaultMinBodyRateWindow is the window a minimum body rate is
	// averaged over.
	DefaultMinBodyRateWindow = 10 * time.Second
	// DefaultBufferMaxBytes caps a buffered request body when the service
	// sets no MaxBodyBytes.
	DefaultBufferMaxBytes = 8 << 20
)

// errBodyTimeout ends a request body that arrives too slowly.
var errBodyTimeout = errors.New("request body read timed out")

// readDeadliner is the part of the server's ResponseWriter (HTTP/1 and
// HTTP/2) that bounds reads of the request body.
type readDeadliner interface {
	SetReadDeadline(time.Time) error
}

// bodyClock enforces a service's body read timeout (idle between reads)
// and minimum rate on a request body. The rate counts only the time spent
// waiting for the client, not the time the upstream took to accept what
// was already read.
type bodyClock struct {
	dl      readDeadliner
	idle    time.Duration // 0: none
	rate    int64         // bytes per second; 0: none
	window  time.Duration
	waited  time.Duration // in the current window
	winRead int64
	armed   bool // a deadline is set on the connection
}

func (c *bodyClock) active() bool { return c.dl != nil && (c.idle > 0 || c.rate > 0) }

// before arms the idle deadline for one read and returns its start time.
func (c *bodyClock) before() time.Time {
	now := time.Now()
	if c.idle > 0 {
		_ = c.dl.SetReadDeadline(now.Add(c.idle))
		c.armed = true
	}
	return now
}

// after accounts for a read of n bytes that started at start and reports
// whether the client is too slow.
func (c *bodyClock) after(start time.Time, n int, err error) (slow bool) {
	if err != nil && c.armed {
		if errors.Is(err, os.ErrDeadlineExceeded) || isTimeout(err) {
			return true
		}
	}
	if err == io.EOF && c.armed {
		// Reads after the body (the server's check for a closed
		// connection) must not inherit the deadline.
		_ = c.dl.SetReadDeadline(time.Time{})
		c.armed = false
	}
	if c.rate <= 0 || err != nil {
		return false
	}
	c.waited += time.Since(start)
	c.winRead += int64(n)
	if c.waited < c.window {
		return false
	}
	slow = c.winRead < int64(float64(c.rate)*c.waited.Seconds())
	c.waited, c.winRead = 0, 0
	return slow
}

// newBodyClock returns the clock for a request of spec answered on w.
func newBodyClock(w http.ResponseWriter, spec *ServiceSpec) bodyClock {
	c := bodyClock{idle: spec.BodyReadTimeout, rate: spec.MinBodyRate, window: spec.MinBodyRateWindow}
	if c.window <= 0 {
		c.window = DefaultMinBodyRateWindow
	}
	if c.idle == 0 && c.rate > 0 {
		// A read must end for the rate to be checked.
		c.idle = c.window
	}
	if c.idle > 0 || c.rate > 0 {
		c.dl, _ = w.(readDeadliner)
	}
	return c
}

// bufferBody reads the whole request body before an upstream is picked,
// so that a slow client never holds an upstream connection. It answers and
// returns false when the body is too large, too slow or broken.
func (p *Proxy) bufferBody(w http.ResponseWriter, r *http.Request, ex *exchange) bool {
	spec := &ex.svc.spec
	limit := spec.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultBufferMaxBytes
	}
	body := &bodyReader{rc: r.Body, limit: limit, clock: newBodyClock(w, spec)}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(min(r.ContentLength, limit)))
	}
	_, err := buf.ReadFrom(body)
	if err == nil {
		r.Body = io.NopCloser(bytes.NewReader(buf.Bytes()))
		r.ContentLength = int64(buf.Len())
		return true
	}
	var page *errorPage
	switch {
	case body.tooLarge():
		ex.status, page = http.StatusRequestEntityTooLarge, pageTooLarge
	case body.timedOut():
		ex.status, page = http.StatusRequestTimeout, pageBodyTimeout
		stopBodyReads(w)
	case r.Context().Err() != nil:
		ex.status = statusClientClosed
		return false
	default:
		ex.status, page = http.StatusBadRequest, pageBadBody
	}
	w.Header()["Connection"] = connClose
	writeError(w, r, ex.status, page)
	return false
}

// stopBodyReads makes further reads of a too slow request body fail at
// once, so that the server does not wait for the rest of it after the
// answer before closing the connection.
func stopBodyReads(w any) {
	if d, ok := w.(readDeadliner); ok {
		_ = d.SetReadDeadline(time.Now())
	}
}
