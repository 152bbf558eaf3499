package proxy

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxConnections bounds the client connections of one listener.
const DefaultMaxConnections = 10_000

// Memory is handed back to the OS once the number of connections falls to
// half of a peak of at least freeMinPeak, freeDelay after the drop, so that
// the buffers and goroutine stacks of a spike of connections do not stay in
// the RSS.
const (
	freeMinPeak = 512
	freeDelay   = 5 * time.Second
)

// clientListener is a listener that bounds its open connections. Beyond max
// it closes the connection that has been idle between keep-alive requests
// the longest, and refuses (closes) the new one only when none is idle.
// Connections are wrapped in a framingGuard when guard is set, after TLS
// termination when tlsConfig is set (the http.Server then serves HTTP/1.1
// and, after ALPN "h2", HTTP/2 on the decrypted stream). Its methods
// are safe for concurrent use; ConnState is the http.Server hook that tells
// it which connections are idle.
type clientListener struct {
	net.Listener
	max     int
	guard   bool
	maxHead int
	tls     *tls.Config
	log     *slog.Logger

	mu        sync.Mutex
	live      int
	h2live    int // live connections carrying HTTP/2
	peak      int
	idle      clientConn // sentinel of the idle list, oldest first
	freeTimer *time.Timer
	closed    bool
}

func newClientListener(ln net.Listener, max int, guard bool, maxHead int, tlsConfig *tls.Config, log *slog.Logger) *clientListener {
	t := &clientListener{Listener: ln, max: max, guard: guard, maxHead: maxHead, tls: tlsConfig, log: log}
	t.idle.prev, t.idle.next = &t.idle, &t.idle
	return t
}

// clientConn is a client connection counted by a clientListener.
type clientConn struct {
	net.Conn
	t          *clientListener
	guard      *framingGuard // nil when not guarded
	secure     bool          // TLS is terminated below the guard
	prev, next *clientConn   // idle list links; nil when not idle
	idleSince  time.Time     // when it joined the idle list
	h2         atomic.Bool   // it carries HTTP/2 (counted in t.h2live)
	closeOnce  sync.Once
}

// Accept returns the next connection, making room for it when max are open.
func (t *clientListener) Accept() (net.Conn, error) {
	for {
		c, err := t.Listener.Accept()
		if err != nil {
			return nil, err
		}
		t.mu.Lock()
		var victim *clientConn
		if t.live >= t.max {
			victim = t.idle.next
			if victim == &t.idle {
				t.mu.Unlock()
				t.log.Warn("connection refused", "reason", "max connections reached", "max", t.max,
					"client", c.RemoteAddr().String())
				c.Close()
				continue
			}
			t.unlinkLocked(victim)
		}
		t.live++
		if t.live > t.peak {
			t.peak = t.live
		}
		t.mu.Unlock()
		if victim != nil {
			victim.Close()
		}
		tc := &clientConn{t: t}
		if t.tls != nil {
			c = tls.Server(c, t.tls)
			tc.secure = true
		}
		if t.guard {
			tc.guard = newFramingGuard(c, t.maxHead, t.log)
			tc.Conn = tc.guard
		} else {
			tc.Conn = c
		}
		return tc, nil
	}
}

// ConnState records which connections are idle; set it as the
// http.Server's ConnState.
func (t *clientListener) ConnState(c net.Conn, state http.ConnState) {
	if tl, ok := c.(*tls.Conn); ok {
		c = tl.NetConn()
	}
	tc, ok := c.(*clientConn)
	if !ok {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch state {
	case http.StateIdle:
		if tc.next == nil {
			tc.idleSince = time.Now()
			tc.prev, tc.next = t.idle.prev, &t.idle
			t.idle.prev.next = tc
			t.idle.prev = tc
		}
	default:
		t.unlinkLocked(tc)
	}
}

func (t *clientListener) unlinkLocked(tc *clientConn) {
	if tc.next == nil {
		return
	}
	tc.prev.next = tc.next
	tc.next.prev = tc.prev
	tc.prev, tc.next = nil, nil
}

// Open returns the number of open connections.
func (t *clientListener) Open() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.live
}

// Idle returns the number of idle keep-alive connections.
func (t *clientListener) Idle() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for c := t.idle.next; c != &t.idle; c = c.next {
		n++
	}
	return n
}

// markH2 records that tc carries HTTP/2.
func (tc *clientConn) markH2() {
	if tc.h2.CompareAndSwap(false, true) {
		tc.t.mu.Lock()
		tc.t.h2live++
		tc.t.mu.Unlock()
	}
}

// OpenHTTP1 returns the number of open connections that do not carry
// HTTP/2.
func (t *clientListener) OpenHTTP1() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.live - t.h2live
}

// closeIdleSince closes the connections idle since before (or longer)
// and returns how many it closed.
func (t *clientListener) closeIdleSince(before time.Time) int {
	var victims []*clientConn
	t.mu.Lock()
	for c := t.idle.next; c != &t.idle && !c.idleSince.After(before); c = c.next {
		victims = append(victims, c)
	}
	for _, c := range victims {
		t.unlinkLocked(c)
	}
	t.mu.Unlock()
	for _, c := range victims {
		c.Close()
	}
	return len(victims)
}

// Close closes the listener and stops the pending memory release. Closing
// it again does nothing.
func (t *clientListener) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	if t.freeTimer != nil {
		t.freeTimer.Stop()
	}
	t.mu.Unlock()
	return t.Listener.Close()
}

// released counts a closed connection and schedules the memory release
// after a drop.
func (t *clientListener) released(tc *clientConn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.unlinkLocked(tc)
	t.live--
	if tc.h2.Load() {
		t.h2live--
	}
	if t.peak >= freeMinPeak && t.live <= t.peak/2 && t.freeTimer == nil && !t.closed {
		t.freeTimer = time.AfterFunc(freeDelay, t.freeMemory)
	}
}

// freeMemory returns unused memory to the OS and starts a new peak.
func (t *clientListener) freeMemory() {
	// The first collection moves pooled buffers (net/http's bufio pools)
	// to the pools' victim caches, the second frees them; FreeOSMemory
	// then returns the pages.
	runtime.GC()
	debug.FreeOSMemory()
	t.mu.Lock()
	t.peak = t.live
	t.freeTimer = nil
	t.mu.Unlock()
}

// Close closes the connection once and counts it as gone.
func (tc *clientConn) Close() error {
	err := tc.Conn.Close()
	tc.closeOnce.Do(func() { tc.t.released(tc) })
	return err
}

// connKey is the context key of a request's *clientConn.
type connKey struct{}

// connContext stores the connection in the request context; set it as the
// http.Server's ConnContext.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*clientConn); ok {
		return context.WithValue(ctx, connKey{}, tc)
	}
	return ctx
}

// stopFraming tells the connection's framing guard that the connection is
// leaving HTTP/1.1 (a protocol switch).
func stopFraming(ctx context.Context) {
	if tc, ok := ctx.Value(connKey{}).(*clientConn); ok && tc.guard != nil {
		tc.guard.stop()
	}
}

// isTLS reports whether r arrived over TLS, terminated by net/http or by the
// listener.
func isTLS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	tc, ok := r.Context().Value(connKey{}).(*clientConn)
	return ok && tc.secure
}

// ReadFrom lets a response body copied from a file go out with sendfile
// (net/http's writer looks for it on the connection).
func (tc *clientConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := tc.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{tc.Conn}, r)
}
