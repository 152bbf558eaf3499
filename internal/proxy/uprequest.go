package proxy

import (
	"bufio"
	"io"
	"net/http"
	"strings"
)

// syncBodyMax is the largest request body (with a known length) written
// before the response is read; larger or unknown-length bodies are written
// from a separate goroutine while the response is read, so an upstream that
// answers early is heard.
const syncBodyMax = 64 << 10

// outbound is what the proxy sends upstream for one request: the request
// line and end-to-end headers of the client's request plus the values
// computed here.
type outbound struct {
	path       string // escaped path, prefix stripped
	query      string
	host       string
	xff        string
	realIP     string    // "" keeps the client's X-Real-IP
	proto      string    // "" keeps the client's X-Forwarded-Proto
	fwdHost    string    // "" keeps the client's X-Forwarded-Host
	genID      requestID // with newID: a generated ID that replaces the client's
	newID      bool
	trusted    bool
	upgrade    string
	skipConn   []string // canonical header names listed in Connection
	body       *bodyReader
	bodyLen    int64 // -1: chunked
	idempotent bool
}

// prepare computes the outbound request for r answered on w.
func (p *Proxy) prepare(w http.ResponseWriter, r *http.Request, ex *exchange, ob *outbound) {
	spec := &ex.svc.spec
	path := ex.path
	if spec.StripPrefix && path != "*" {
		path = stripPathPrefix(path, ex.svc.matchPrefix)
	}
	ob.path = path
	ob.query = r.URL.RawQuery
	ob.host = r.Host

	client := clientHost(r.RemoteAddr)
	ob.trusted = p.isTrusted(client)
	if prior := r.Header["X-Forwarded-For"]; ob.trusted && len(prior) > 0 {
		ob.xff = strings.Join(prior, ", ") + ", " + client
	} else {
		ob.xff = client
	}
	if !ob.trusted || r.Header.Get("X-Real-Ip") == "" {
		ob.realIP = client
	}
	if !ob.trusted || r.Header.Get("X-Forwarded-Proto") == "" {
		ob.proto = "http"
		if isTLS(r) {
			ob.proto = "https"
		}
	}
	if !ob.trusted || r.Header.Get("X-Forwarded-Host") == "" {
		ob.fwdHost = r.Host
	}
	if ob.trusted {
		ex.reqID = r.Header.Get("X-Request-Id")
	}
	if ex.reqID == "" {
		newRequestID(&ob.genID)
		ob.newID = true
		ex.genID = ob.genID
	}

	if conn := r.Header["Connection"]; len(conn) > 0 {
		ob.skipConn = connectionListed(conn)
		if r.ProtoMajor == 1 {
			if up := upgradeType(r.Header); up != "" && !strings.EqualFold(up, "h2c") {
				ob.upgrade = up
			}
		}
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		ob.idempotent = true
	}
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		ob.body, ob.bodyLen = nil, 0
	} else {
		ob.body = &bodyReader{rc: r.Body, limit: spec.MaxBodyBytes}
		if !spec.BufferRequests {
			ob.body.clock = newBodyClock(w, spec)
		}
		ob.bodyLen = r.ContentLength
	}
}

// skipRequestHeader reports whether the client's header k is not forwarded
// as is.
func (ob *outbound) skipRequestHeader(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length", "Expect", "Host",
		"X-Forwarded-For":
		return true
	case "X-Forwarded-Proto":
		return ob.proto != ""
	case "X-Forwarded-Host":
		return ob.fwdHost != ""
	case "X-Real-Ip":
		return ob.realIP != ""
	case "X-Request-Id":
		return ob.newID
	case "Forwarded":
		return !ob.trusted
	}
	for _, s := range ob.skipConn {
		if s == k {
			return true
		}
	}
	return false
}

// writeHead writes the request line and headers of the upstream request.
func (ob *outbound) writeHead(bw *bufio.Writer, r *http.Request, targetAddr string) {
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	bw.WriteString(ob.path)
	if ob.query != "" {
		bw.WriteByte('?')
		bw.WriteString(ob.query)
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	if ob.host != "" {
		bw.WriteString(ob.host)
	} else {
		bw.WriteString(targetAddr)
	}
	bw.WriteString("\r\n")
	for k, vv := range r.Header {
		if ob.skipRequestHeader(k) {
			continue
		}
		for _, v := range vv {
			writeHeaderLine(bw, k, v)
		}
	}
	writeHeaderLine(bw, "X-Forwarded-For", ob.xff)
	if ob.realIP != "" {
		writeHeaderLine(bw, "X-Real-IP", ob.realIP)
	}
	if ob.proto != "" {
		writeHeaderLine(bw, "X-Forwarded-Proto", ob.proto)
	}
	if ob.fwdHost != "" {
		writeHeaderLine(bw, "X-Forwarded-Host", ob.fwdHost)
	}
	if ob.newID {
		bw.WriteString("X-Request-Id: ")
		for _, b := range ob.genID { // a slice of it would move ob to the heap
			bw.WriteByte(b)
		}
		bw.WriteString("\r\n")
	}
	if ob.upgrade != "" {
		bw.WriteString("Connection: Upgrade\r\n")
		writeHeaderLine(bw, "Upgrade", ob.upgrade)
	}
	switch {
	case ob.body == nil:
		if methodExpectsBody(r.Method) {
			bw.WriteString("Content-Length: 0\r\n")
		}
	case ob.bodyLen >= 0:
		bw.WriteString("Content-Length: ")
		writeUint(bw, uint64(ob.bodyLen), 10)
		bw.WriteString("\r\n")
	default:
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	bw.WriteString("\r\n")
}

func methodExpectsBody(m string) bool {
	return m == http.MethodPost || m == http.MethodPut || m == http.MethodPatch
}

func writeHeaderLine(bw *bufio.Writer, k, v string) {
	bw.WriteString(k)
	bw.WriteString(": ")
	bw.WriteString(v)
	bw.WriteString("\r\n")
}

// writeBody sends a request body of size bytes (-1: unknown, sent
// chunk-encoded). With flush set every piece is flushed at once
// (streaming).
func writeBody(bw *bufio.Writer, body *bodyReader, size int64, flush bool) error {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	chunked := size < 0
	var written int64
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			written += int64(n)
			if chunked {
				writeUint(bw, uint64(n), 16)
				bw.WriteString("\r\n")
			}
			if _, err := bw.Write(buf[:n]); err != nil {
				return err
			}
			if chunked {
				bw.WriteString("\r\n")
			}
			if flush {
				if err := bw.Flush(); err != nil {
					return err
				}
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return rerr
		}
	}
	if !chunked && written != size {
		return io.ErrUnexpectedEOF
	}
	if chunked {
		bw.WriteString("0\r\n\r\n")
	}
	return bw.Flush()
}

// writeUint writes n in base 10 or 16 without allocating.
func writeUint(bw *bufio.Writer, n uint64, base uint64) {
	const digits = "0123456789abcdef"
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = digits[n%base]
		n /= base
		if n == 0 {
			break
		}
	}
	for ; i < len(b); i++ {
		bw.WriteByte(b[i])
	}
}

// connectionListed returns the canonical names of the headers listed in
// Connection values, other than close, keep-alive and upgrade.
func connectionListed(conn []string) []string {
	var out []string
	for _, v := range conn {
		for v != "" {
			var tok string
			tok, v, _ = strings.Cut(v, ",")
			tok = strings.TrimSpace(tok)
			if tok == "" || strings.EqualFold(tok, "close") || strings.EqualFold(tok, "keep-alive") ||
				strings.EqualFold(tok, "upgrade") {
				continue
			}
			out = append(out, http.CanonicalHeaderKey(tok))
		}
	}
	return out
}
