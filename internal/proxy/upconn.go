package proxy

import (
	"bufio"
	"context"
	"net"
	"sync"
	"time"
)

// upConn is one HTTP/1.1 connection to a target. It serves one request at
// a time; between requests it waits in its target's idle pool.
type upConn struct {
	nc     net.Conn // a *trackedConn
	br     *bufio.Reader
	lastCR bool // the last line readLine returned ended in CR LF
	bw     *bufio.Writer
	t      *target
	idleAt time.Time
	reused bool
	// deadline is the read deadline set on nc (zero: none); see
	// armHeaderDeadline.
	deadline time.Time
	// abort closes the connection; it is created once so that arming it
	// for each request does not allocate.
	abort func()

	// probe checks an idle connection before reuse (created on first use).
	probe *prober

	// Scratch space for parsing one response head, reused across requests.
	fields []headerField
	vals   []byte
	// long gathers a head line longer than the read buffer.
	long []byte
}

// headerField locates one parsed header value in upConn.vals.
type headerField struct {
	key        string
	start, end int
}

// Buffers of upstream connections. An idle connection holds none: it takes
// a reader and a writer when it is picked and gives them back when it
// returns to the pool, so the memory of a large idle pool is its sockets.
var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, upstreamReadBufferSize) }}
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, upstreamWriteBufferSize) }}
)

func newUpConn(t *target, nc net.Conn) *upConn {
	c := &upConn{nc: nc, t: t}
	c.takeBuffers()
	c.abort = func() { c.nc.Close() }
	return c
}

// takeBuffers gives c a reader and a writer from the pools.
func (c *upConn) takeBuffers() {
	c.br = readerPool.Get().(*bufio.Reader)
	c.br.Reset(c.nc)
	c.bw = writerPool.Get().(*bufio.Writer)
	c.bw.Reset(c.nc)
}

// releaseBuffers gives the reader and writer of an idle connection back to
// the pools. The reader holds no bytes: a connection with unread bytes is
// closed instead of pooled.
func (c *upConn) releaseBuffers() {
	c.br.Reset(nil)
	readerPool.Put(c.br)
	c.bw.Reset(nil)
	writerPool.Put(c.bw)
	c.br, c.bw = nil, nil
}

// probeAfter is how long a connection must have been idle before it is
// probed for a close by the upstream. A connection returned to the pool
// more recently is taken as it is, because under load the pool's top
// connections are reused within microseconds and a probe each time costs a
// system call per request, unless its target has already been seen closing
// pooled connections without announcing it (target.probeAll). A crash is
// covered by the health checks (SetHealthy closes the idle connections of an
// unhealthy target) and by the one resend of an idempotent request without
// a body.
const probeAfter = 20 * time.Millisecond

// idleCloseMin is the shortest idle time after which an upstream's close
// of a pooled connection is taken for an idle timeout. A connection found
// closed sooner makes its target probe every connection before reuse.
const idleCloseMin = time.Second

// headerDeadlineSlackDivisor sets how far a header deadline may lag behind the
// exact one before it is set again; see armHeaderDeadline.
const headerDeadlineSlackDivisor = 8

// armHeaderDeadline bounds the wait for the next response head by timeout
// (0: no bound). The deadline stays armed after a response whose body was
// already buffered, so on a busy connection it is only moved when it lags
// more than timeout/8 behind now+timeout: the effective timeout is between
// 7/8 of timeout and timeout, and most requests make no deadline call.
func (c *upConn) armHeaderDeadline(timeout time.Duration) {
	if timeout <= 0 {
		c.clearDeadline()
		return
	}
	want := time.Now().Add(timeout)
	if !c.deadline.IsZero() && !c.deadline.After(want) &&
		want.Sub(c.deadline) <= timeout/headerDeadlineSlackDivisor {
		return
	}
	c.deadline = want
	_ = c.nc.SetReadDeadline(want)
}

// clearDeadline removes the read deadline of c, if any.
func (c *upConn) clearDeadline() {
	if !c.deadline.IsZero() {
		c.deadline = time.Time{}
		_ = c.nc.SetReadDeadline(time.Time{})
	}
}

// close closes the connection for good.
func (c *upConn) close() { c.nc.Close() }

// connPool is a target's LIFO pool of idle upstream connections.
type connPool struct {
	mu   sync.Mutex
	idle []*upConn
}

// getConn returns an idle connection that is still open, or dials a new
// one. Dial failures are *dialError.
func (t *target) getConn(ctx context.Context, fresh bool) (*upConn, error) {
	if !fresh {
		for {
			t.pool.mu.Lock()
			n := len(t.pool.idle)
			if n == 0 {
				t.pool.mu.Unlock()
				break
			}
			c := t.pool.idle[n-1]
			t.pool.idle[n-1] = nil
			t.pool.idle = t.pool.idle[:n-1]
			t.pool.mu.Unlock()
			now := time.Now()
			if !c.deadline.IsZero() && !now.Before(c.deadline) {
				// A header deadline left armed has passed while the
				// connection was idle: it must not fail the probe.
				c.clearDeadline()
			}
			idle := now.Sub(c.idleAt)
			if idle > idleConnTimeout {
				c.close()
				continue
			}
			if (idle >= probeAfter || t.probeAll.Load()) && !c.connAlive() {
				if idle < idleCloseMin {
					t.probeAll.Store(true)
				}
				c.close()
				continue
			}
			c.reused = true
			c.takeBuffers()
			return c, nil
		}
	}
	nc, err := t.dial(ctx, "tcp", t.addr)
	if err != nil {
		return nil, err
	}
	return newUpConn(t, nc), nil
}

// putConn returns a connection whose last exchange ended cleanly to the
// idle pool, closing it when the pool is full or the target is draining.
func (t *target) putConn(c *upConn) {
	if t.draining.Load() || t.cutting.Load() || c.br.Buffered() > 0 {
		// Draining, or bytes beyond the response: the framing is off.
		c.close()
		return
	}
	c.releaseBuffers()
	c.idleAt = time.Now()
	var expired []*upConn
	t.pool.mu.Lock()
	if len(t.pool.idle) >= maxIdleConnsPerTarget {
		t.pool.mu.Unlock()
		c.close()
		return
	}
	// Retire idle connections that waited too long; the pool is LIFO, so
	// they are at the bottom.
	k := 0
	for k < len(t.pool.idle) && c.idleAt.Sub(t.pool.idle[k].idleAt) > idleConnTimeout {
		k++
	}
	if k > 0 {
		expired = append(expired, t.pool.idle[:k]...)
		n := copy(t.pool.idle, t.pool.idle[k:])
		clear(t.pool.idle[n:])
		t.pool.idle = t.pool.idle[:n]
	}
	t.pool.idle = append(t.pool.idle, c)
	t.pool.mu.Unlock()
	for _, e := range expired {
		e.close()
	}
}

// closeIdle closes the idle upstream connections of t.
func (t *target) closeIdle() {
	t.pool.mu.Lock()
	idle := t.pool.idle
	t.pool.idle = nil
	t.pool.mu.Unlock()
	for _, c := range idle {
		c.close()
	}
}
