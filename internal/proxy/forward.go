package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// statusClientClosed is recorded (never sent) when the client went away
// before a response was written.
const statusClientClosed = 499

// copyBufferSize is the size of the pooled buffers that bodies and upgraded
// streams are copied through; reads this large bypass an upstream
// connection's read buffer.
const copyBufferSize = 16 << 10

// bufPool holds copyBufferSize copy buffers.
var bufPool = sync.Pool{New: func() any {
	b := make([]byte, copyBufferSize)
	return &b
}}

// lingerTimeout bounds how long the rest of a request body is read and
// discarded after the upstream answered without taking all of it.
const lingerTimeout = 5 * time.Second

// errBodyTooLarge ends a request body longer than the service allows.
var errBodyTooLarge = errors.New("request body too large")

// exchange is the per-request record used for metrics and the access log.
type exchange struct {
	start   time.Time
	path    string // the normalised escaped path
	svc     *service
	set     *targetSet
	target  *target
	status  int
	bytes   int64
	connErr bool
	// reqID is the client's request ID when it is kept; genID is used
	// when reqID is empty. requestID returns the one in use.
	reqID string
	genID requestID
	// released is set once the target's in-flight count was given back.
	released bool
	// upstreams lists the addresses tried, in order; upStart is when the
	// first was tried and upHead how long until the response head (or the
	// failure) of the last.
	upstreams []string
	upStart   time.Time
	upHead    time.Duration
}

// requestID returns the request's ID as sent upstream.
func (ex *exchange) requestID() string {
	if ex.reqID != "" || ex.genID == (requestID{}) {
		return ex.reqID
	}
	return string(ex.genID[:])
}

// releaseTarget gives back the target's in-flight count, once.
func (ex *exchange) releaseTarget() {
	if ex.target != nil && !ex.released {
		ex.released = true
		ex.target.release()
	}
}

// ServeHTTP routes r by host and path, picks a version and a target, and
// forwards the request.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rs := p.reserved.Load(); rs != nil && r.URL.Path == rs.path {
		rs.h.ServeHTTP(w, r)
		return
	}
	ex := exchange{start: time.Now()}
	path, ok := requestPath(r)
	if !ok {
		ex.status = http.StatusBadRequest
		w.Header()["Connection"] = connClose
		writeError(w, r, ex.status, pageBadPath)
		p.finish(r, &ex)
		return
	}
	ex.path = path
	svc := p.table.Load().lookup(r.Host, path)
	if svc == nil {
		ex.status = http.StatusNotFound
		writeError(w, r, ex.status, pageNotFound)
		p.finish(r, &ex)
		return
	}
	ex.svc = svc
	if g := svc.spec.Gateway; g != nil && p.edge(w, r, &ex, g) {
		p.finish(r, &ex)
		return
	}
	if c := svc.spec.Compression; c != nil {
		if cw := c.wrap(w, r); cw != nil {
			w = cw
			defer cw.finish()
		}
	}
	ex.set = svc.chooseSet(w, r)
	if s := ex.set.series; s != nil {
		s.AddInFlight(1)
	}
	defer p.finish(r, &ex)
	if len(svc.spec.Files) > 0 {
		if fr, roots := svc.fileRoute(ex.path); fr != nil {
			p.serveFile(w, r, &ex, fr, roots)
			return
		}
	}
	if max := svc.spec.MaxBodyBytes; max > 0 && r.ContentLength > max {
		ex.status = http.StatusRequestEntityTooLarge
		w.Header()["Connection"] = connClose
		writeError(w, r, ex.status, pageTooLarge)
		return
	}
	if svc.spec.BufferRequests && r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
		if !p.bufferBody(w, r, &ex) {
			return
		}
	}
	p.forward(w, r, &ex)
}

// finish records metrics and the access log of one request.
func (p *Proxy) finish(r *http.Request, ex *exchange) {
	d := time.Since(ex.start)
	if ex.set != nil {
		if s := ex.set.series; s != nil {
			s.AddInFlight(-1)
			s.Observe(ex.status, ex.connErr, d)
		}
	}
	if p.accessLog {
		p.logAccess(r, ex, d)
	}
}

// call is one request sent on one upstream connection.
type call struct {
	c    *upConn
	resp upResponse
	// stop disarms the hook that closes the connection when the client
	// goes away.
	stop func() bool
	// bodyDone delivers the result of a request body written concurrently.
	bodyDone chan error
	// broken is set when writing the request failed.
	broken bool
	// rc controls the client connection while a request body is written
	// concurrently.
	rc   *http.ResponseController
	body *bodyReader
}

// end settles the connection after the exchange: it goes back to the idle
// pool only when reusable is set and the whole exchange completed cleanly.
func (cl *call) end(reusable bool) {
	if cl.stop != nil && !cl.stop() {
		reusable = false // the client went away and the connection was closed
	}
	if cl.bodyDone != nil {
		select {
		case err := <-cl.bodyDone:
			if err != nil {
				reusable = false
			}
		default:
			// The upstream answered before taking the whole body. Closing
			// the upstream connection makes the writer discard the rest of
			// the client's body, for at most lingerTimeout, so the client
			// (still sending) is not reset before it reads the answer,
			// which is flushed first.
			reusable = false
			cl.c.close()
			_ = cl.rc.SetReadDeadline(time.Now().Add(lingerTimeout))
			_ = cl.rc.Flush()
			<-cl.bodyDone
			if cl.body.timedOut() {
				stopBodyReads(cl.rc)
			} else {
				_ = cl.rc.SetReadDeadline(time.Time{})
			}
		}
	}
	if reusable && !cl.broken && !cl.resp.closeAfter && cl.resp.done {
		cl.c.t.putConn(cl.c)
	} else {
		cl.c.close()
	}
}

// forward sends r to a target of ex.set and copies the response back. A
// request moves to another target only when the connection could not be
// opened (nothing was sent); an idempotent request without a body is also
// resent once when a reused keep-alive connection turns out to be closed
// before any response byte.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, ex *exchange) {
	ctx := r.Context()
	var ob outbound
	p.prepare(w, r, ex, &ob)

	var (
		cl                 call
		err                error
		tried              uint64
		rerouted, resent   bool
		fresh, dialFailure bool
	)
	for {
		t, idx := ex.set.pick(tried)
		if t == nil {
			// The snapshot's remaining targets are draining: a newer table
			// has replaced them. Route once more on the current table.
			if !rerouted && !ob.body.touched() && p.reroute(w, r, ex) {
				rerouted, tried = true, 0
				ob = outbound{}
				p.prepare(w, r, ex, &ob)
				continue
			}
			break
		}
		tried |= 1 << uint(idx)
		ex.tryUpstream(t.addr)
		cl.c, err = t.getConn(ctx, fresh)
		if err != nil {
			var de *dialError
			if errors.As(err, &de) {
				dialFailure = true
				if ctx.Err() == nil {
					if !de.cut {
						t.eject(de.err)
					}
					t.release()
					continue
				}
			}
			ex.target = t
			break
		}
		dialFailure = false
		ex.target = t
		err = p.send(ctx, w, r, &ob, &cl)
		ex.upHead = time.Since(ex.upStart)
		if err != nil && cl.c.reused && !cl.resp.gotBytes && ctx.Err() == nil && !t.cutting.Load() {
			// The upstream closed a pooled connection without saying so.
			t.probeAll.Store(true)
		}
		if err != nil && cl.c.reused && !cl.resp.gotBytes && ob.idempotent && ob.body == nil &&
			!resent && ctx.Err() == nil && !t.cutting.Load() {
			// A stale keep-alive connection: the request was not processed.
			cl.end(false)
			cl = call{}
			resent, fresh = true, true
			ex.target = nil
			t.release()
			tried &^= 1 << uint(idx)
			continue
		}
		break
	}
	defer ex.releaseTarget()
	if ex.target == nil || err != nil {
		if cl.bodyDone != nil && ctx.Err() != nil {
			// The client's side ended (gone, or its body timed out): the
			// body writer's reads fail at once, and its result tells why.
			if berr := <-cl.bodyDone; berr != nil {
				cl.broken = true
			}
			cl.bodyDone = nil
		}
		p.failed(w, r, ex, &ob, err, dialFailure)
		if cl.c != nil {
			cl.end(false)
		}
		return
	}
	if cl.resp.status == http.StatusSwitchingProtocols {
		p.serveUpgrade(w, r, &cl, ex)
		return
	}
	p.respond(w, r, &cl, ex)
}

// send writes the request on cl.c and reads the response head.
func (p *Proxy) send(ctx context.Context, w http.ResponseWriter, r *http.Request, ob *outbound, cl *call) error {
	c := cl.c
	cl.stop = context.AfterFunc(ctx, c.abort)
	ob.writeHead(c.bw, r, c.t.addr)
	var err error
	switch {
	case ob.body == nil:
		err = c.bw.Flush()
	case ob.bodyLen > 0 && ob.bodyLen <= syncBodyMax:
		err = writeBody(c.bw, ob.body, ob.bodyLen, false)
	default:
		if err = c.bw.Flush(); err == nil {
			// The response may start while the body is still being read.
			cl.rc, cl.body = http.NewResponseController(w), ob.body
			_ = cl.rc.EnableFullDuplex()
			done := make(chan error, 1)
			cl.bodyDone = done
			body, size := ob.body, ob.bodyLen
			go func() {
				err := writeBody(c.bw, body, size, true)
				if err != nil && !body.tooLarge() && !body.readFailed() && !body.sawEOF() {
					// The upstream stopped taking the body: keep reading the
					// client's so it can read the answer.
					drainBody(body)
				}
				if err != nil {
					// Unblock the response read: the exchange is broken.
					c.close()
				}
				done <- err
			}()
		}
	}
	if err != nil {
		cl.broken = true
		if ob.body.tooLarge() || ob.body.readFailed() {
			return err
		}
	}
	// Even when writing failed the upstream may have answered (for example
	// 413 before closing): read what it sent.
	c.armHeaderDeadline(time.Duration(c.t.headerTimeout.Load()))
	if err := c.readHead(&cl.resp, r.Method == http.MethodHead); err != nil {
		return err
	}
	if !cl.resp.bodyBuffered(c.br.Buffered()) {
		// The body (or an upgraded stream) is read from the connection
		// for as long as it lasts.
		c.clearDeadline()
	}
	return nil
}

// reroute moves ex to the service and set of the current routing table
// and reports whether they differ from the ones ex had.
func (p *Proxy) reroute(w http.ResponseWriter, r *http.Request, ex *exchange) bool {
	svc := p.table.Load().lookup(r.Host, ex.path)
	if svc == nil || svc == ex.svc {
		return false
	}
	set := svc.chooseSet(w, r)
	if s := ex.set.series; s != nil {
		s.AddInFlight(-1)
	}
	if s := set.series; s != nil {
		s.AddInFlight(1)
	}
	ex.svc, ex.set = svc, set
	return true
}

// failed answers a request that got no upstream response.
func (p *Proxy) failed(w http.ResponseWriter, r *http.Request, ex *exchange, ob *outbound, err error, dialFailure bool) {
	switch {
	case err == nil && ex.target == nil:
		ex.status = http.StatusServiceUnavailable
		writeError(w, r, ex.status, pageUnavailable)
	case ob.body.timedOut():
		ex.status = http.StatusRequestTimeout
		stopBodyReads(w)
		w.Header()["Connection"] = connClose
		writeError(w, r, ex.status, pageBodyTimeout)
	case r.Context().Err() != nil:
		ex.status = statusClientClosed
	case ob.body.tooLarge():
		ex.status = http.StatusRequestEntityTooLarge
		w.Header()["Connection"] = connClose
		writeError(w, r, ex.status, pageTooLarge)
	case ob.body.readFailed():
		ex.status = http.StatusBadRequest
		w.Header()["Connection"] = connClose
		writeError(w, r, ex.status, pageBadBody)
	case ex.target != nil && ex.target.cutting.Load():
		ex.status = http.StatusGatewayTimeout
		writeError(w, r, ex.status, pageDrained)
	case dialFailure:
		ex.status = http.StatusBadGateway
		ex.connErr = true
		writeError(w, r, ex.status, pageBadGateway)
	case isTimeout(err):
		ex.status = http.StatusGatewayTimeout
		writeError(w, r, ex.status, pageTimeout)
	default:
		ex.status = http.StatusBadGateway
		writeError(w, r, ex.status, pageBadGateway)
	}
	if ex.status >= 500 {
		p.log.Warn("upstream request failed", "service", ex.svc.name, "version", ex.set.version,
			"target", targetID(ex.target), "status", ex.status, "request_id", ex.requestID(), "err", err)
	}
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func targetID(t *target) string {
	if t == nil {
		return ""
	}
	return t.id
}

// respond copies an upstream response to the client. Streams (unknown
// length or text/event-stream) are flushed after every read.
func (p *Proxy) respond(w http.ResponseWriter, r *http.Request, cl *call, ex *exchange) {
	resp := &cl.resp
	ex.status = resp.status
	h := w.Header()
	cl.c.copyHead(h, resp)
	if g := ex.svc.spec.Gateway; g != nil {
		p.respondHeaders(h, r, g)
	}
	w.WriteHeader(resp.status)
	var flusher http.Flusher
	if resp.contentLen < 0 || resp.eventStream {
		flusher, _ = w.(http.Flusher)
		if flusher != nil {
			flusher.Flush()
		}
	}
	n, rerr, werr := copyBody(w, cl, flusher)
	ex.bytes = n
	if werr != nil || r.Context().Err() != nil {
		cl.end(false)
		return // the client went away
	}
	if rerr != nil {
		cl.end(false)
		if ex.target.cutting.Load() && resp.contentLen < 0 {
			// Ended by a drain deadline: close the stream cleanly.
			return
		}
		p.log.Warn("upstream response broken", "service", ex.svc.name, "version", ex.set.version,
			"target", ex.target.id, "request_id", ex.requestID(), "err", rerr)
		// Abort so the client cannot take the truncated body as complete;
		// deferred accounting still runs.
		panic(http.ErrAbortHandler)
	}
	// Asked again: a compressing writer may still be sending the head
	// from its flush timer until Header is called.
	h = w.Header()
	for _, tr := range resp.trailers {
		h[http.TrailerPrefix+tr.k] = append(h[http.TrailerPrefix+tr.k], tr.v)
	}
	cl.end(true)
}

// copyBody copies the response body to w with a pooled buffer, flushing
// after every write when flusher is not nil. It returns the bytes written
// and the read or write error that ended the copy (the body's clean end is
// not an error).
func copyBody(w io.Writer, cl *call, flusher http.Flusher) (n int64, rerr, werr error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for {
		nr, err := cl.c.readBody(&cl.resp, buf)
		if nr > 0 {
			nw, err := w.Write(buf[:nr])
			n += int64(nw)
			if err != nil {
				return n, nil, err
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
		if err == io.EOF {
			return n, nil, nil
		}
		if err != nil {
			return n, err, nil
		}
	}
}

// drainBody reads and discards the rest of a request body.
func drainBody(body *bodyReader) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	_, _ = io.CopyBuffer(io.Discard, struct{ io.Reader }{body}, *bp)
}

// bodyReader forwards a request body, enforces the service's size limit and
// records what happened to it.
type bodyReader struct {
	rc    io.ReadCloser
	limit int64 // 0: none
	n     int64
	clock bodyClock
	flags atomic.Uint32
}

const (
	bodyTouched uint32 = 1 << iota
	bodyTooLarge
	bodyReadFailed
	bodyEOF
	bodyTimedOut
)

// Read reads from the client's body.
func (b *bodyReader) Read(p []byte) (int, error) {
	if b.flags.Load()&bodyTouched == 0 {
		b.flags.Or(bodyTouched)
	}
	if b.limit > 0 {
		if b.n > b.limit {
			return 0, errBodyTooLarge
		}
		if room := b.limit - b.n + 1; int64(len(p)) > room {
			p = p[:room]
		}
	}
	var n int
	var err error
	if b.clock.active() {
		start := b.clock.before()
		n, err = b.rc.Read(p)
		if b.clock.after(start, n, err) {
			b.flags.Or(bodyTimedOut | bodyReadFailed)
			b.n += int64(n)
			return n, errBodyTimeout
		}
	} else {
		n, err = b.rc.Read(p)
	}
	b.n += int64(n)
	if b.limit > 0 && b.n > b.limit {
		b.flags.Or(bodyTooLarge)
		return n - int(b.n-b.limit), errBodyTooLarge
	}
	switch {
	case err == io.EOF:
		b.flags.Or(bodyEOF)
	case err != nil:
		b.flags.Or(bodyReadFailed)
	}
	return n, err
}

func (b *bodyReader) touched() bool    { return b != nil && b.flags.Load()&bodyTouched != 0 }
func (b *bodyReader) tooLarge() bool   { return b != nil && b.flags.Load()&bodyTooLarge != 0 }
func (b *bodyReader) readFailed() bool { return b != nil && b.flags.Load()&bodyReadFailed != 0 }
func (b *bodyReader) sawEOF() bool     { return b != nil && b.flags.Load()&bodyEOF != 0 }
func (b *bodyReader) timedOut() bool   { return b != nil && b.flags.Load()&bodyTimedOut != 0 }
