package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// The plain listener's HTTP/1.1 connections are served by the loop in this
// file instead of net/http's server: one goroutine per connection, one
// reused request, header map and response writer per connection, heads
// parsed in place (parseRequestHead) and responses written with one
// writev where possible. HTTP/2 with prior knowledge is handed to
// net/http's server, which also serves TLS.

// Connection loop tuning.
const (
	// idleHot is how long a keep-alive connection waits for its next
	// request holding its read buffer; after that the buffer goes back to
	// the pool until a byte arrives.
	idleHot = time.Second
	// watchAfter is how long a request may run before its connection is
	// watched for the client closing it (which cancels the request's
	// context). Shorter requests cost no watch.
	watchAfter = 50 * time.Millisecond
	// maxPostHandlerRead is how much of an unread request body is
	// discarded after the response to keep the connection; with more
	// left it is closed (net/http's limit).
	maxPostHandlerRead = 256 << 10
	// pendMax is how much of a response of unknown length is held back so
	// that a short one is sent with a Content-Length (net/http's size).
	pendMax = 2 << 10
)

// Connection states, for shutdown.
const (
	h1Idle   int32 = iota // waiting for a request (new or keep-alive)
	h1Active              // reading or serving a request
	h1Closing
	h1Gone // hijacked or handed to net/http
)

// h1Server serves the HTTP/1.1 connections of one plain listener.
type h1Server struct {
	s       *Server
	h       http.Handler
	tr      *clientListener
	h2      *chanListener // HTTP/2 prior-knowledge connections for net/http
	maxHead int
	baseCtx context.Context

	mu    sync.Mutex
	conns map[*h1Conn]struct{}
	// shutdown is set once Shutdown or Close began: no connection goes
	// back to idle.
	shutdown atomic.Bool
	wg       sync.WaitGroup
}

// serve accepts connections until the listener is closed.
func (hs *h1Server) serve() error {
	for {
		c, err := hs.tr.Accept()
		if err != nil {
			return err
		}
		tc := c.(*clientConn)
		conn := &h1Conn{hs: hs, tc: tc, raw: tc.Conn}
		hs.mu.Lock()
		if hs.shutdown.Load() {
			hs.mu.Unlock()
			tc.Close()
			continue
		}
		hs.conns[conn] = struct{}{}
		hs.wg.Add(1)
		hs.mu.Unlock()
		go conn.serve()
	}
}

// closeIdle closes the connections waiting for a request; with all set it
// closes every connection it serves.
func (hs *h1Server) closeIdle(all bool) {
	hs.mu.Lock()
	var victims []*h1Conn
	for c := range hs.conns {
		if c.state.CompareAndSwap(h1Idle, h1Closing) || (all && c.state.Load() == h1Active) {
			victims = append(victims, c)
		}
	}
	hs.mu.Unlock()
	for _, c := range victims {
		c.tc.Close()
	}
}

// shutdownCtx stops accepting, closes idle connections and waits for the
// requests in progress to finish (each connection closes after its
// response), or for ctx to end. Hijacked connections are not waited for.
func (hs *h1Server) shutdownCtx(ctx context.Context) error {
	hs.shutdown.Store(true)
	err := hs.tr.Close()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	poll := time.Millisecond
	for {
		hs.closeIdle(false)
		if hs.active() == 0 {
			return err
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		poll = min(2*poll, 100*time.Millisecond)
	}
}

// close stops accepting and closes every connection it serves.
func (hs *h1Server) close() error {
	hs.shutdown.Store(true)
	err := hs.tr.Close()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	hs.closeIdle(true)
	return err
}

// active reports the connections being served a request.
func (hs *h1Server) active() int {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	n := 0
	for c := range hs.conns {
		if c.state.Load() == h1Active {
			n++
		}
	}
	return n
}

// h1Conn is one client connection served by h1Server.
type h1Conn struct {
	hs    *h1Server
	tc    *clientConn
	raw   net.Conn // tc's connection, for reads and writes
	state atomic.Int32

	rd     h1Reader
	bufp   *[]byte // the pooled read buffer, nil while parked
	outp   *[]byte
	out    []byte // response bytes not written yet
	iov    [2][]byte
	bufs   net.Buffers
	head   []byte // a copy of the current request head
	h      h1Head
	req    *http.Request // reused; its context is the connection's
	body   h1Body
	w      h1Writer
	ctx    context.Context
	cancel context.CancelFunc
	remote string
	one    [1]byte

	// Watching for the client closing the connection while a request runs.
	watchMu    sync.Mutex
	watchState uint8
	watchTimer *time.Timer
	watchDone  chan struct{}
	// gone is set once the client was seen closing the connection.
	gone bool

	// continueMu orders a 100 Continue against the response.
	continueMu   sync.Mutex
	sentContinue bool
	hijacked     bool
	lastBody     bool // the previous request had a body
	// parkFor is set by readHead when the connection has been idle for
	// idleHot: how much longer it may idle.
	parkFor time.Duration
}

// serve runs the connection's request loop.
func (c *h1Conn) serve() {
	hs := c.hs
	c.remote = c.raw.RemoteAddr().String()
	c.newContext()
	c.rd.src = c.raw
	c.takeBuffers()
	_ = c.raw.SetReadDeadline(time.Now().Add(hs.s.opts.ReadHeaderTimeout))
	c.loop(true)
}

// loop serves requests until the connection ends, or until it has been
// idle for idleHot: a new goroutine then waits for its next byte (see
// parked), so that the stack grown while serving is not kept.
func (c *h1Conn) loop(first bool) {
	hs := c.hs
	handedOff := false
	defer func() {
		if !handedOff {
			c.end()
		}
	}()
	for {
		if !c.readHead(first) {
			if d := c.parkFor; d > 0 {
				c.parkFor = 0
				handedOff = true
				go c.parked(d)
			}
			return
		}
		first = false
		if c.h.prior {
			c.handOffH2()
			return
		}
		if !c.serveRequest() {
			return
		}
		if hs.shutdown.Load() || !c.state.CompareAndSwap(h1Active, h1Idle) {
			return
		}
		c.hs.tr.ConnState(c.tc, http.StateIdle)
	}
}

// parked waits for the next request of an idle connection, then serves on.
func (c *h1Conn) parked(d time.Duration) {
	if !c.park(d) {
		c.end()
		return
	}
	c.newContext()
	c.loop(false)
}

// newContext gives the connection a new context and the request that
// carries it. The context of a parked connection is dropped, with the
// hooks requests registered on it.
func (c *h1Conn) newContext() {
	c.ctx, c.cancel = context.WithCancel(context.WithValue(c.hs.baseCtx, connKey{}, c.tc))
	c.req = (&http.Request{}).WithContext(c.ctx)
}

// end closes the connection (unless it was handed over) and forgets it.
func (c *h1Conn) end() {
	hs := c.hs
	if c.state.Load() != h1Gone {
		c.tc.Close()
	}
	c.releaseBuffers()
	hs.mu.Lock()
	delete(hs.conns, c)
	hs.mu.Unlock()
	if c.cancel != nil {
		c.cancel()
	}
	hs.wg.Done()
}

func (c *h1Conn) takeBuffers() {
	if c.bufp == nil {
		c.bufp = h1BufPool.Get().(*[]byte)
		c.rd.buf = *c.bufp
	}
}

func (c *h1Conn) releaseBuffers() {
	if c.bufp != nil && len(c.rd.buf) == h1BufSize {
		h1BufPool.Put(c.bufp)
	}
	c.bufp, c.rd.buf = nil, nil
	c.rd.r, c.rd.w = 0, 0
	if c.outp != nil {
		h1BufPool.Put(c.outp)
		c.outp, c.out = nil, nil
	}
}

// readHead reads the next request head into c.head and parses it. It
// answers a refused head itself and reports false when the connection is
// done.
func (c *h1Conn) readHead(first bool) bool {
	opts := &c.hs.s.opts
	if c.rd.r == c.rd.w {
		// Nothing pipelined: wait for the request. The first one has the
		// header deadline set since the connection was accepted.
		c.rd.r, c.rd.w = 0, 0
		idle := opts.IdleTimeout
		if !first {
			_ = c.raw.SetReadDeadline(time.Now().Add(min(idleHot, idle)))
		}
		if err := c.rd.fill(); err != nil {
			if first || !isTimeout(err) || idle <= idleHot || c.hs.shutdown.Load() {
				return false
			}
			c.parkFor = idle - idleHot
			return false
		}
	}
	if !c.state.CompareAndSwap(h1Idle, h1Active) {
		return false
	}
	if !first {
		c.hs.tr.ConnState(c.tc, http.StateActive)
	}
	deadline := first
	for {
		if c.lastBody {
			// Clients may send CRLF after a body (RFC 9112 section 2.2).
			for c.rd.r < c.rd.w && (c.rd.buf[c.rd.r] == '\r' || c.rd.buf[c.rd.r] == '\n') {
				c.rd.r++
			}
		}
		b := c.rd.buffered()
		if n := headEnd(b); n > 0 {
			if n > c.hs.maxHead {
				c.reject(errHeadTooLarge)
				return false
			}
			c.head = append(c.head[:0], b[:n]...)
			c.rd.r += n
			break
		}
		if len(b) > c.hs.maxHead {
			c.reject(errHeadTooLarge)
			return false
		}
		if !deadline {
			_ = c.raw.SetReadDeadline(time.Now().Add(opts.ReadHeaderTimeout))
			deadline = true
		}
		if c.rd.w == len(c.rd.buf) && c.rd.r == 0 {
			// A head larger than the buffer: grow it, up to the limit.
			nb := make([]byte, min(2*len(c.rd.buf), c.hs.maxHead+1))
			copy(nb, c.rd.buf[:c.rd.w])
			if c.bufp != nil {
				h1BufPool.Put(c.bufp)
			}
			c.bufp = &nb
			c.rd.buf = nb
		}
		if err := c.rd.fill(); err != nil {
			if isTimeout(err) {
				c.hs.s.log.Info("request refused", "reason", "request head not received in time",
					"client", c.remote)
			}
			return false
		}
	}
	_ = c.raw.SetReadDeadline(time.Time{})
	if herr := parseRequestHead(c.head, &c.h); herr != nil {
		c.reject(herr)
		return false
	}
	return true
}

// park waits up to d for the next byte of a connection idle for idleHot,
// with its read buffer back in the pool.
func (c *h1Conn) park(d time.Duration) bool {
	c.releaseBuffers()
	// What a request needs is made again when the next one comes: an
	// idle connection holds its goroutine, socket and this struct only.
	c.h.hdr, c.h.vals, c.head = nil, nil, nil
	c.w.hdr, c.w.pend = nil, nil
	c.cancel()
	c.ctx, c.cancel, c.req = nil, nil, nil
	if c.watchTimer != nil {
		c.watchTimer.Stop()
		c.watchTimer, c.watchDone = nil, nil
	}
	_ = c.raw.SetReadDeadline(time.Now().Add(d))
	n, err := c.raw.Read(c.one[:])
	if n == 0 {
		_ = err
		return false
	}
	c.takeBuffers()
	c.rd.buf[0] = c.one[0]
	c.rd.r, c.rd.w = 0, 1
	return true
}

// reject answers a refused head as net/http does and ends the connection.
func (c *h1Conn) reject(e *headError) {
	text := fmt.Sprintf("%d %s", e.status, http.StatusText(e.status))
	if e.reason != "" {
		text += ": " + e.reason
	}
	if f := c.hs.s.opts.OnRejected; f != nil {
		f(c.remote, e.status, text[4:])
	}
	if e == errHeadFraming || e == errHeadFold {
		c.hs.s.log.Info("request refused", "reason", "ambiguous message framing", "client", c.remote)
	}
	_ = c.raw.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = io.WriteString(c.raw, "HTTP/1.1 "+text+
		"\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"+text)
	if cw, ok := c.raw.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		// Let the client read the answer before the connection goes.
		_ = c.raw.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		_, _ = io.Copy(io.Discard, io.LimitReader(c.raw, 256<<10))
	}
}

// handOffH2 gives a connection that opened with the HTTP/2 preface to
// net/http's server, with the bytes read so far.
func (c *h1Conn) handOffH2() {
	pre := make([]byte, 0, len(c.head)+len(c.rd.buffered()))
	pre = append(append(pre, c.head...), c.rd.buffered()...)
	c.tc.Conn = &prefixConn{Conn: c.raw, pre: pre}
	c.state.Store(h1Gone)
	if !c.hs.h2.deliver(c.tc) {
		c.tc.Close()
	}
}

// serveRequest runs the handler for the parsed head and finishes the
// response. It reports whether the connection can carry another request.
func (c *h1Conn) serveRequest() bool {
	h := &c.h
	c.body.reset(&c.rd, h.contentLength)
	c.sentContinue = false
	if h.expectContinue {
		c.body.onFirst = c.writeContinue
	}
	c.lastBody = h.contentLength != 0
	r := c.req
	r.Method, r.URL, r.Proto, r.ProtoMajor, r.ProtoMinor = h.method, &h.url, h.proto, h.major, h.minor
	r.Header, r.ContentLength, r.Close, r.Host = h.hdr, h.contentLength, h.wantsClose, h.host
	r.RemoteAddr, r.RequestURI = c.remote, h.target
	r.GetBody, r.TransferEncoding, r.Form, r.PostForm, r.MultipartForm = nil, nil, nil, nil, nil
	r.Trailer, r.TLS, r.Response, r.Pattern = nil, nil, nil, ""
	if h.contentLength != 0 {
		r.Body = &c.body
		if h.chunked {
			r.TransferEncoding = chunkedTE
		}
	} else {
		r.Body = http.NoBody
	}
	c.w.reset(c)
	c.startWatch()
	ok := c.runHandler()
	if c.hijacked {
		return false
	}
	c.stopWatch()
	if !ok || c.gone {
		return false
	}
	c.w.finish()
	if c.w.broken {
		return false
	}
	return !c.w.closeAfter
}

var chunkedTE = []string{"chunked"}

// runHandler calls the handler, recovering its panic. It reports false
// after a panic (the connection is closed after what was written so far).
func (c *h1Conn) runHandler() (ok bool) {
	defer func() {
		if err := recover(); err != nil {
			if err != http.ErrAbortHandler {
				buf := make([]byte, 64<<10)
				buf = buf[:runtime.Stack(buf, false)]
				c.hs.s.log.Error("handler panic", "client", c.remote, "err", fmt.Sprint(err), "stack", string(buf))
			}
			if !c.hijacked {
				c.stopWatch()
				_ = c.flushOut()
			}
			ok = false
		}
	}()
	c.hs.h.ServeHTTP(&c.w, c.req)
	return true
}

// writeContinue sends 100 Continue before the body is first read, unless
// the response has begun.
func (c *h1Conn) writeContinue() {
	c.continueMu.Lock()
	defer c.continueMu.Unlock()
	if c.w.committed {
		return
	}
	c.sentContinue = true
	c.ensureOut()
	c.out = append(c.out, "HTTP/1.1 100 Continue\r\n\r\n"...)
	_ = c.flushOut()
}

// Watch states.
const (
	watchOff uint8 = iota
	watchArmed
	watchReading
	watchStopping
)

// startWatch arms the watch for the client closing the connection, which
// runs once the request body was read and the request has lasted
// watchAfter.
func (c *h1Conn) startWatch() {
	if c.body.eof {
		c.armWatch()
	} else {
		c.body.onEOF = c.armWatch
	}
}

func (c *h1Conn) armWatch() {
	c.watchMu.Lock()
	defer c.watchMu.Unlock()
	if c.watchState != watchOff {
		return
	}
	c.watchState = watchArmed
	if c.watchTimer == nil {
		c.watchDone = make(chan struct{}, 1)
		c.watchTimer = time.AfterFunc(watchAfter, c.watch)
	} else {
		c.watchTimer.Reset(watchAfter)
	}
}

// watch reads from the connection while the handler runs: the client's
// EOF cancels the request context; bytes that arrive (a pipelined
// request) are kept. Each run signals watchDone once, which stopWatch
// waits for.
func (c *h1Conn) watch() {
	defer func() { c.watchDone <- struct{}{} }()
	c.watchMu.Lock()
	if c.watchState != watchArmed || c.rd.w == len(c.rd.buf) || c.rd.r < c.rd.w {
		c.watchMu.Unlock()
		return
	}
	c.watchState = watchReading
	c.watchMu.Unlock()
	n, err := c.raw.Read(c.rd.buf[c.rd.w:])
	c.rd.w += n
	if n == 0 && err != nil && !isTimeout(err) {
		c.gone = true
		c.cancel()
	}
}

// stopWatch ends the watch; it returns once no read of it is under way.
func (c *h1Conn) stopWatch() {
	c.body.onEOF = nil
	c.watchMu.Lock()
	st := c.watchState
	c.watchState = watchStopping
	c.watchMu.Unlock()
	switch st {
	case watchArmed:
		if !c.watchTimer.Stop() {
			// The timer fired: the watch returns at once or reads.
			c.watchMu.Lock()
			reading := c.watchState == watchReading
			c.watchMu.Unlock()
			if reading {
				_ = c.raw.SetReadDeadline(aLongTimeAgo)
			}
			<-c.watchDone
			if reading {
				_ = c.raw.SetReadDeadline(time.Time{})
			}
		}
	case watchReading:
		_ = c.raw.SetReadDeadline(aLongTimeAgo)
		<-c.watchDone
		_ = c.raw.SetReadDeadline(time.Time{})
	}
	c.watchMu.Lock()
	c.watchState = watchOff
	c.watchMu.Unlock()
}

var aLongTimeAgo = time.Unix(1, 0)

// ensureOut gives the connection its write buffer.
func (c *h1Conn) ensureOut() {
	if c.outp == nil {
		c.outp = h1BufPool.Get().(*[]byte)
		c.out = (*c.outp)[:0]
	}
}

// flushOut writes the pending response bytes.
func (c *h1Conn) flushOut() error {
	if len(c.out) == 0 {
		return nil
	}
	_, err := c.raw.Write(c.out)
	c.out = c.out[:0]
	return err
}

// writeOut writes p after the pending bytes: copied when it fits in the
// buffer, else both in one writev.
func (c *h1Conn) writeOut(p []byte) error {
	c.ensureOut()
	if len(c.out)+len(p) <= cap(c.out) {
		c.out = append(c.out, p...)
		return nil
	}
	var err error
	if len(c.out) == 0 {
		_, err = c.raw.Write(p)
	} else {
		c.iov[0], c.iov[1] = c.out, p
		c.bufs = c.iov[:]
		_, err = c.bufs.WriteTo(c.raw)
		c.iov[0], c.iov[1] = nil, nil
	}
	c.out = c.out[:0]
	return err
}

// hijack hands the connection to the handler.
func (c *h1Conn) hijack() (net.Conn, *bufio.ReadWriter, error) {
	if c.hijacked {
		return nil, nil, http.ErrHijacked
	}
	c.stopWatch()
	if err := c.flushOut(); err != nil {
		return nil, nil, err
	}
	c.hijacked = true
	c.state.Store(h1Gone)
	c.hs.tr.ConnState(c.tc, http.StateHijacked)
	pending := append([]byte(nil), c.rd.buffered()...)
	c.rd.r = c.rd.w
	src := io.Reader(c.raw)
	if len(pending) > 0 {
		src = io.MultiReader(&byteReader{b: pending}, c.raw)
	}
	_ = c.raw.SetDeadline(time.Time{})
	return c.tc, bufio.NewReadWriter(bufio.NewReader(src), bufio.NewWriter(c.raw)), nil
}

type byteReader struct{ b []byte }

func (r *byteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// prefixConn is a connection whose first bytes were already read.
type prefixConn struct {
	net.Conn
	pre []byte
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.pre) > 0 {
		n := copy(b, p.pre)
		p.pre = p.pre[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}

// CloseWrite half-closes the underlying connection.
func (p *prefixConn) CloseWrite() error {
	if cw, ok := p.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// chanListener is a listener whose connections are handed to it:
// net/http's server serves HTTP/2 connections found by the HTTP/1.1 loop.
type chanListener struct {
	addr   net.Addr
	ch     chan net.Conn
	done   chan struct{}
	closed sync.Once
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, ch: make(chan net.Conn), done: make(chan struct{})}
}

// deliver hands c to the listener's Accept; false when it is closed.
func (l *chanListener) deliver(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		return false
	}
}

// Accept returns the next handed-over connection.
func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops Accept.
func (l *chanListener) Close() error {
	l.closed.Do(func() { close(l.done) })
	return nil
}

// Addr returns the public listener's address.
func (l *chanListener) Addr() net.Addr { return l.addr }

var errBodyNotAllowed = errors.New("http: request method or response status code does not allow body")
