package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// statusClientClosed is recorded (never sent) when the client went away
// before a response was written.
const statusClientClosed = 499

// bufPool holds 32 KiB copy buffers.
var bufPool = sync.Pool{New: func() any {
	b := make([]byte, 32<<10)
	return &b
}}

// errBodyTooLarge ends a request body longer than the service allows.
var errBodyTooLarge = errors.New("request body too large")

// errBodyConsumed refuses to replay a request body that was already read.
var errBodyConsumed = errors.New("request body already sent")

// exchange is the per-request record used for metrics and the access log.
type exchange struct {
	start   time.Time
	svc     *service
	set     *targetSet
	target  *target
	status  int
	bytes   int64
	connErr bool
	reqID   string
	// released is set once the target's in-flight count was given back.
	released bool
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
	ex := exchange{start: time.Now()}
	svc := p.table.Load().lookup(r.Host, r.URL.Path)
	if svc == nil {
		ex.status = http.StatusNotFound
		writeError(w, r, ex.status, pageNotFound)
		p.finish(r, &ex)
		return
	}
	ex.svc = svc
	ex.set = svc.chooseSet(w, r)
	if s := ex.set.series; s != nil {
		s.AddInFlight(1)
	}
	defer p.finish(r, &ex)
	if max := svc.spec.MaxBodyBytes; max > 0 && r.ContentLength > max {
		ex.status = http.StatusRequestEntityTooLarge
		w.Header()["Connection"] = connClose
		writeError(w, r, ex.status, pageTooLarge)
		return
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

// forward sends r to a target of ex.set and copies the response back.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, ex *exchange) {
	out, body := p.outgoing(r, ex)
	ctx := r.Context()

	var (
		resp     *http.Response
		err      error
		tried    uint64
		rerouted bool
	)
	for {
		t, idx := ex.set.pick(tried)
		if t == nil {
			// The snapshot's remaining targets are draining: a newer table
			// has replaced them. Route once more on the current table.
			if !rerouted && !body.touched() && p.reroute(w, r, ex) {
				rerouted, tried = true, 0
				out, body = p.outgoing(r, ex)
				continue
			}
			break
		}
		tried |= 1 << uint(idx)
		out.URL.Host = t.addr
		resp, err = t.transport.Load().RoundTrip(out)
		if err == nil {
			ex.target = t
			break
		}
		var de *dialError
		if errors.As(err, &de) && !body.touched() && ctx.Err() == nil {
			if !de.cut {
				t.eject(de.err)
			}
			t.release()
			continue
		}
		ex.target = t
		break
	}
	defer ex.releaseTarget()
	if err != nil || resp == nil {
		p.failed(w, r, ex, body, err)
		return
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		p.serveUpgrade(w, r, resp, ex)
		return
	}
	p.respond(w, r, resp, ex)
}

// reroute moves ex to the service and set of the current routing table
// and reports whether they differ from the ones ex had.
func (p *Proxy) reroute(w http.ResponseWriter, r *http.Request, ex *exchange) bool {
	svc := p.table.Load().lookup(r.Host, r.URL.Path)
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

// outgoing builds the upstream request for r: end-to-end headers, the
// forwarded headers, the request ID, the (possibly stripped) path and a
// replay-safe body wrapper.
func (p *Proxy) outgoing(r *http.Request, ex *exchange) (*http.Request, *bodyReader) {
	out := r.WithContext(r.Context())
	u := new(url.URL)
	*u = *r.URL
	u.Scheme = "http"
	if spec := &ex.svc.spec; spec.StripPrefix {
		u.Path = stripPathPrefix(u.Path, spec.PathPrefix)
		if u.RawPath != "" {
			if strings.HasPrefix(u.RawPath, spec.PathPrefix) {
				u.RawPath = stripPathPrefix(u.RawPath, spec.PathPrefix)
			} else {
				u.RawPath = ""
			}
		}
	}
	out.URL = u
	out.RequestURI = ""
	out.Proto, out.ProtoMajor, out.ProtoMinor = "HTTP/1.1", 1, 1
	out.Close = false
	out.TransferEncoding = nil

	out.Header = make(http.Header, len(r.Header)+4)
	copyEndToEnd(out.Header, r.Header)
	if r.ProtoMajor == 1 {
		if up := upgradeType(r.Header); up != "" && !strings.EqualFold(up, "h2c") {
			out.Header["Connection"] = []string{"Upgrade"}
			out.Header["Upgrade"] = []string{up}
		}
	}
	ex.reqID = p.setForwarded(out.Header, r)

	var body *bodyReader
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		out.Body = nil
		out.ContentLength = 0
	} else {
		body = &bodyReader{rc: r.Body, limit: ex.svc.spec.MaxBodyBytes}
		out.Body = body
		out.GetBody = body.replay
	}
	return out, body
}

// failed answers a request that got no upstream response.
func (p *Proxy) failed(w http.ResponseWriter, r *http.Request, ex *exchange, body *bodyReader, err error) {
	var de *dialError
	switch {
	case err == nil:
		ex.status = http.StatusServiceUnavailable
		writeError(w, r, ex.status, pageUnavailable)
	case r.Context().Err() != nil:
		ex.status = statusClientClosed
	case body.tooLarge():
		ex.status = http.StatusRequestEntityTooLarge
		w.Header()["Connection"] = connClose
		writeError(w, r, ex.status, pageTooLarge)
	case ex.target != nil && ex.target.cutting.Load():
		ex.status = http.StatusGatewayTimeout
		writeError(w, r, ex.status, pageDrained)
	case errors.As(err, &de):
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
			"target", targetID(ex.target), "status", ex.status, "request_id", ex.reqID, "err", err)
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
func (p *Proxy) respond(w http.ResponseWriter, r *http.Request, resp *http.Response, ex *exchange) {
	defer resp.Body.Close()
	ex.status = resp.StatusCode
	h := w.Header()
	copyEndToEnd(h, resp.Header)
	w.WriteHeader(resp.StatusCode)
	stream := resp.ContentLength < 0 || isEventStream(resp.Header)
	var flusher http.Flusher
	if stream {
		flusher, _ = w.(http.Flusher)
		if flusher != nil {
			flusher.Flush()
		}
	}
	n, rerr, werr := copyBody(w, resp.Body, flusher)
	ex.bytes = n
	if werr != nil || r.Context().Err() != nil {
		return // the client went away
	}
	if rerr != nil {
		if ex.target.cutting.Load() && resp.ContentLength < 0 {
			// Ended by a drain deadline: close the stream cleanly.
			return
		}
		p.log.Warn("upstream response broken", "service", ex.svc.name, "version", ex.set.version,
			"target", ex.target.id, "request_id", ex.reqID, "err", rerr)
		// Abort so the client cannot take the truncated body as complete;
		// deferred accounting still runs.
		panic(http.ErrAbortHandler)
	}
	for k, vv := range resp.Trailer {
		h[http.TrailerPrefix+k] = vv
	}
}

// isEventStream reports a text/event-stream response.
func isEventStream(h http.Header) bool {
	ct := h["Content-Type"]
	return len(ct) > 0 && strings.HasPrefix(ct[0], "text/event-stream")
}

// copyBody copies body to w with a pooled buffer, flushing after every
// write when flusher is not nil. It returns the bytes written and the read
// or write error that ended the copy (io.EOF is not an error).
func copyBody(w io.Writer, body io.Reader, flusher http.Flusher) (n int64, rerr, werr error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for {
		nr, err := body.Read(buf)
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

// bodyReader forwards a request body, enforces the service's size limit and
// records whether any of it was read, so that a request whose connection
// failed before sending can be replayed on another target. Close does not
// close the client's body: the server does that when the handler returns.
type bodyReader struct {
	rc    io.ReadCloser
	limit int64 // 0: none
	n     int64
	flags atomic.Uint32
}

const (
	bodyTouched uint32 = 1 << iota
	bodyTooLarge
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
	n, err := b.rc.Read(p)
	b.n += int64(n)
	if b.limit > 0 && b.n > b.limit {
		b.flags.Or(bodyTooLarge)
		return n - int(b.n-b.limit), errBodyTooLarge
	}
	return n, err
}

// Close does nothing; see bodyReader.
func (b *bodyReader) Close() error { return nil }

// replay is the request's GetBody: it allows the transport to resend a body
// it never read.
func (b *bodyReader) replay() (io.ReadCloser, error) {
	if b.touched() {
		return nil, errBodyConsumed
	}
	return b, nil
}

func (b *bodyReader) touched() bool  { return b != nil && b.flags.Load()&bodyTouched != 0 }
func (b *bodyReader) tooLarge() bool { return b != nil && b.flags.Load()&bodyTooLarge != 0 }
