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
	bw     *bufio.Writer
	t      *target
	idleAt time.Time
	reused bool
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

func newUpConn(t *target, nc net.Conn) *upConn {
	c := &upConn{
		nc: nc,
		br: bufio.NewReaderSize(nc, upstreamReadBufferSize),
		bw: bufio.NewWriterSize(nc, upstreamWriteBufferSize),
		t:  t,
	}
	c.abort = func() { c.nc.Close() }
	return c
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
			if time.Since(c.idleAt) > idleConnTimeout || c.br.Buffered() > 0 || !c.connAlive() {
				c.close()
				continue
			}
			c.reused = true
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
	if t.draining.Load() || t.cutting.Load() {
		c.close()
		return
	}
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
