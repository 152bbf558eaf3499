package proxy

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Upstream connection tuning. Idle pools are large because small pools
// make the proxy open thousands of upstream connections per second under
// load. The buffers are small because every pooled connection holds both:
// a response head line longer than the read buffer is gathered separately
// (up to maxHeadLine), request heads and bodies pass through the write
// buffer in pieces, and large bodies bypass the read buffer.
const (
	maxIdleConnsPerTarget   = 1024
	idleConnTimeout         = 60 * time.Second
	dialTimeout             = 5 * time.Second
	upstreamReadBufferSize  = 4 << 10
	upstreamWriteBufferSize = 4 << 10
)

// errTargetCut is the dial error of a target whose connections were cut at
// the end of a drain.
var errTargetCut = errors.New("target cut by drain")

// dialError marks a failure to connect to a target: nothing was sent, so the
// request may be retried on another target.
type dialError struct {
	err error
	// cut is set when the dial was refused because the target is being cut;
	// such a target is not ejected.
	cut bool
}

func (e *dialError) Error() string { return "dial upstream: " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// target is one upstream instance. It lives in the Proxy's registry across
// routing-table versions. Counters and flags are atomics read on the hot
// path; drain bookkeeping is guarded by Proxy.mu.
type target struct {
	id   string
	addr string
	log  *slog.Logger

	inflight atomic.Int64
	healthy  atomic.Bool
	ejected  atomic.Bool
	draining atomic.Bool
	cutting  atomic.Bool
	// probeAll is set once a pooled connection of t was found closed by
	// the upstream: from then on every connection is probed before reuse,
	// however briefly it was idle.
	probeAll atomic.Bool

	// headerTimeout bounds the wait for response headers (nanoseconds, 0: none).
	headerTimeout atomic.Int64
	pool          connPool

	// idle receives a token when inflight drops to zero while draining.
	idle chan struct{}

	// Drain bookkeeping, guarded by Proxy.mu.
	drainCancel chan struct{}
	drainDone   bool

	connMu sync.Mutex
	conns  map[*trackedConn]struct{}
}

func newTarget(id, addr string, log *slog.Logger) *target {
	t := &target{
		id:    id,
		addr:  addr,
		log:   log,
		idle:  make(chan struct{}, 1),
		conns: make(map[*trackedConn]struct{}),
	}
	t.healthy.Store(true)
	return t
}

// setHeaderTimeout sets the response header timeout of t.
func (t *target) setHeaderTimeout(d time.Duration) {
	t.headerTimeout.Store(int64(d))
}

// usable reports whether the balancer may pick the target outside fail-open.
func (t *target) usable() bool {
	return t.healthy.Load() && !t.ejected.Load() && !t.draining.Load()
}

// acquire counts a request in flight on t. It fails when t is draining; the
// increment comes first so that Drain either sees the request or the request
// sees the drain.
func (t *target) acquire() bool {
	t.inflight.Add(1)
	if t.draining.Load() {
		t.release()
		return false
	}
	return true
}

// release ends a request counted by acquire.
func (t *target) release() {
	if t.inflight.Add(-1) == 0 && t.draining.Load() {
		select {
		case t.idle <- struct{}{}:
		default:
		}
	}
}

// eject takes t out of balancing until it is reported healthy again.
func (t *target) eject(err error) {
	if t.ejected.CompareAndSwap(false, true) {
		t.log.Warn("target ejected", "target", t.id, "addr", t.addr, "err", err)
	}
}

var dialer = net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}

// dial connects to the target and tracks the connection so that a drain can
// cut it at its deadline.
func (t *target) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if t.cutting.Load() {
		return nil, &dialError{err: errTargetCut, cut: true}
	}
	c, err := dialer.DialContext(ctx, network, addr)
	if err != nil {
		return nil, &dialError{err: err}
	}
	tc := &trackedConn{Conn: c, t: t}
	t.connMu.Lock()
	t.conns[tc] = struct{}{}
	t.connMu.Unlock()
	if t.cutting.Load() {
		tc.Close()
		return nil, &dialError{err: errTargetCut, cut: true}
	}
	return tc, nil
}

// cutConns closes every upstream connection of t, idle, busy or upgraded.
// New dials fail while t.cutting is set.
func (t *target) cutConns() {
	t.connMu.Lock()
	conns := make([]*trackedConn, 0, len(t.conns))
	for c := range t.conns {
		conns = append(conns, c)
	}
	t.connMu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// trackedConn is an upstream connection registered with its target.
type trackedConn struct {
	net.Conn
	t    *target
	once sync.Once
}

// Close closes the connection and forgets it.
func (c *trackedConn) Close() error {
	err := net.ErrClosed
	c.once.Do(func() {
		err = c.Conn.Close()
		c.t.connMu.Lock()
		delete(c.t.conns, c)
		c.t.connMu.Unlock()
	})
	return err
}
