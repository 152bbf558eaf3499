package proxy

import (
	"bytes"
	"net/http"
	"net/url"
	"unsafe"
)

// h1Head is one parsed HTTP/1.x request head. Its strings alias the bytes
// it was parsed from, and its header map and value slices are reused for
// the next request of the connection: nothing of it may be kept after the
// request's handler returned.
type h1Head struct {
	method, target, proto string
	major, minor          int
	url                   url.URL
	host                  string
	hdr                   http.Header
	vals                  []string
	// contentLength is the body length (-1: chunked).
	contentLength int64
	chunked       bool
	// wantsClose is set when the client asked to close after the response
	// (Connection: close, or HTTP/1.0 without keep-alive).
	wantsClose, keepAlive10 bool
	expectContinue          bool
	// prior is set for the HTTP/2 connection preface ("PRI * HTTP/2.0").
	prior bool
}

// headError is why a request head is refused: the status and the text
// answered ("400 Bad Request: <reason>"), as net/http words it.
type headError struct {
	status int
	reason string
}

var (
	errHeadMalformed   = &headError{http.StatusBadRequest, ""}
	errHeadFraming     = &headError{http.StatusBadRequest, "ambiguous request framing"}
	errHeadFold        = &headError{http.StatusBadRequest, "obsolete line folding"}
	errHeadNoHost      = &headError{http.StatusBadRequest, "missing required Host header"}
	errHeadBadHost     = &headError{http.StatusBadRequest, "malformed Host header"}
	errHeadManyHosts   = &headError{http.StatusBadRequest, "too many Host headers"}
	errHeadBadName     = &headError{http.StatusBadRequest, "invalid header name"}
	errHeadBadValue    = &headError{http.StatusBadRequest, "invalid header value"}
	errHeadBadCL       = &headError{http.StatusBadRequest, "bad Content-Length"}
	errHeadTE          = &headError{http.StatusNotImplemented, "unsupported transfer encoding"}
	errHeadVersion     = &headError{http.StatusHTTPVersionNotSupported, "unsupported protocol version"}
	errHeadTooLarge    = &headError{http.StatusRequestHeaderFieldsTooLarge, ""}
	errHeadExpectation = &headError{http.StatusExpectationFailed, ""}
)

// headEnd returns the length of the request head at the start of b (up to
// and including the empty line that ends it), or 0 when b holds no
// complete head yet. Lines end with LF, optionally preceded by CR.
func headEnd(b []byte) int {
	i := 0
	for {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return 0
		}
		i += j + 1
		switch {
		case i < len(b) && b[i] == '\n':
			return i + 1
		case i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n':
			return i + 2
		}
	}
}

// bstr returns a string that shares b's bytes; it is valid while b is not
// modified.
func bstr(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// nextLine returns the line at the start of b without its line ending and
// the rest of b.
func nextLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil
	}
	line, rest = b[:i], b[i+1:]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, rest
}

// trimOWS trims spaces and tabs (and CR and LF, as net/textproto does).
func trimOWS(b []byte) []byte {
	for len(b) > 0 && isOWS(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isOWS(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isOWS(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// parseRequestHead parses the complete request head b (as delimited by
// headEnd) into h, canonicalising header names in place. It accepts what
// net/http's server accepts, with the same meaning, except for these
// refusals, where an intermediary that frames requests differently could
// be made to see another request boundary (RFC 9112 sections 2.2, 5.1, 5.2
// and 6.3):
//
//   - Content-Length and Transfer-Encoding together (net/http drops the
//     Content-Length), more than one Content-Length line (even when equal)
//     and more than one Transfer-Encoding line: 400;
//   - Transfer-Encoding on an HTTP/1.0 request (net/http ignores it): 400;
//   - a header line folded onto the previous one (obs-fold; net/http joins
//     them): 400;
//   - whitespace between a header name and its colon (net/http keeps the
//     name uncanonicalised): 400;
//   - a CR not followed by LF: 400 (net/http refuses it in values too);
//   - a Transfer-Encoding whose last coding is not chunked (net/http
//     answers 501): 400, as RFC 9112 section 6.3 requires.
//
// net/http's other refusals are kept: 400 for a malformed request line,
// target, header line, Host or Content-Length; 501 for a transfer coding
// other than chunked; 505 for a version other than 1.x.
func parseRequestHead(b []byte, h *h1Head) *headError {
	if h.hdr == nil {
		h.hdr = make(http.Header, 8)
	} else {
		clear(h.hdr)
	}
	vals := h.vals[:0]
	h.host, h.contentLength, h.chunked = "", 0, false
	h.wantsClose, h.keepAlive10, h.expectContinue, h.prior = false, false, false, false

	line, rest := nextLine(b)
	if bytes.IndexByte(line, '\r') >= 0 {
		return errHeadMalformed
	}
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 < 0 {
		return errHeadMalformed
	}
	sp2 := bytes.IndexByte(line[sp1+1:], ' ')
	if sp2 < 0 {
		return errHeadMalformed
	}
	sp2 += sp1 + 1
	method, target, proto := line[:sp1], line[sp1+1:sp2], line[sp2+1:]
	if len(method) == 0 || !allTokenBytes(method) {
		return errHeadMalformed
	}
	major, minor, ok := parseVersion(proto)
	if !ok {
		return errHeadMalformed
	}
	h.method, h.target, h.proto = internMethod(method), bstr(target), internProto(proto)
	h.major, h.minor = major, minor
	if !parseTarget(h) {
		return errHeadMalformed
	}
	if major != 1 {
		if major == 2 && minor == 0 && h.method == "PRI" && h.target == "*" {
			h.prior = true
			return nil
		}
		return errHeadVersion
	}

	var clVal, teVal []byte
	clCount, teCount, hostCount := 0, 0, 0
	first := true
	for {
		line, rest = nextLine(rest)
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if first {
				return errHeadMalformed
			}
			return errHeadFold
		}
		first = false
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return errHeadMalformed
		}
		name, v := line[:colon], line[colon+1:]
		if !canonicalizeKey(name) {
			if bytes.IndexByte(name, ' ') >= 0 || bytes.IndexByte(name, '\t') >= 0 {
				return errHeadFraming
			}
			return errHeadMalformed
		}
		for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
			v = v[1:]
		}
		for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
			v = v[:len(v)-1]
		}
		for _, c := range v {
			if !validHeaderValueByte(c) {
				return errHeadMalformed
			}
		}
		key := bstr(name)
		val := bstr(v)
		switch key {
		case "Host":
			hostCount++
			h.host = val
		case "Content-Length":
			clCount++
			clVal = v
		case "Transfer-Encoding":
			teCount++
			teVal = v
		}
		vals = append(vals, val)
		if prev, ok := h.hdr[key]; ok {
			h.hdr[key] = append(prev, val)
		} else {
			h.hdr[key] = vals[len(vals)-1 : len(vals) : len(vals)]
		}
	}
	h.vals = vals

	if hostCount > 1 {
		return errHeadManyHosts
	}
	if h.url.Host != "" {
		h.host = h.url.Host
	}
	if hostCount == 0 && major == 1 && minor >= 1 && h.method != "CONNECT" {
		return errHeadNoHost
	}
	if hostCount == 1 && !validHostHeader(h.hdr["Host"][0]) {
		return errHeadBadHost
	}
	delete(h.hdr, "Host")

	switch {
	case clCount > 1 || teCount > 1 || (clCount > 0 && teCount > 0):
		return errHeadFraming
	case teCount == 1:
		if minor == 0 {
			return errHeadFraming
		}
		if !asciiEqualFold(teVal, "chunked") {
			if !lastCodingChunked(teVal) {
				// RFC 9112 section 6.3: the length cannot be determined.
				return errHeadFraming
			}
			return errHeadTE
		}
		delete(h.hdr, "Transfer-Encoding")
		h.chunked, h.contentLength = true, -1
	case clCount == 1:
		n, ok := parseContentLength(clVal)
		if !ok {
			return errHeadBadCL
		}
		h.contentLength = n
	}

	if pragma := h.hdr["Pragma"]; len(pragma) > 0 && pragma[0] == "no-cache" {
		if _, ok := h.hdr["Cache-Control"]; !ok {
			h.hdr["Cache-Control"] = noCacheValue
		}
	}
	conn := h.hdr["Connection"]
	h.wantsClose = hasToken(conn, "close")
	if minor == 0 {
		h.wantsClose = h.wantsClose || !hasToken(conn, "keep-alive")
		h.keepAlive10 = !h.wantsClose
	}
	if ex := h.hdr["Expect"]; len(ex) > 0 {
		// As net/http: the first value decides; 100 Continue is sent only
		// to HTTP/1.1 and only when the body is read.
		switch {
		case hasToken(ex[:1], "100-continue"):
			h.expectContinue = minor >= 1 && h.contentLength != 0
		case ex[0] != "":
			return errHeadExpectation
		}
	}
	return nil
}

var noCacheValue = []string{"no-cache"}

// parseTarget fills h.url from h.target as url.ParseRequestURI does (the
// authority form for CONNECT), without allocating for a plain path with
// an optional query.
func parseTarget(h *h1Head) bool {
	t := h.target
	h.url = url.URL{}
	if len(t) > 0 && t[0] == '/' {
		path, query, hasQuery := cutByte(t, '?')
		if plainPath(path) && validQuery(query) {
			h.url.Path = path
			h.url.RawQuery = query
			h.url.ForceQuery = hasQuery && query == ""
			return true
		}
	}
	raw := t
	authority := h.method == "CONNECT" && (len(t) == 0 || t[0] != '/')
	if authority {
		raw = "http://" + t
	}
	u, err := url.ParseRequestURI(raw)
	if err != nil {
		return false
	}
	if authority {
		u.Scheme = ""
	}
	h.url = *u
	return true
}

func cutByte(s string, c byte) (before, after string, found bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// plainPath reports whether the escaped path p needs no unescaping and no
// escaping: url.ParseRequestURI would set Path to p and RawPath to "".
func plainPath(p string) bool {
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		default:
			switch c {
			case '/', '-', '.', '_', '~', '$', '&', '+', ',', ';', '=', ':', '@':
			default:
				return false
			}
		}
	}
	return true
}

// validQuery reports whether q is a query url.ParseRequestURI keeps as it
// is: no control bytes, spaces or fragment.
func validQuery(q string) bool {
	for i := 0; i < len(q); i++ {
		if c := q[i]; c <= ' ' || c == 0x7f || c == '#' || c >= 0x80 {
			return false
		}
	}
	return true
}

// parseVersion parses "HTTP/x.y" as net/http.ParseHTTPVersion does.
func parseVersion(v []byte) (major, minor int, ok bool) {
	switch string(v) {
	case "HTTP/1.1":
		return 1, 1, true
	case "HTTP/1.0":
		return 1, 0, true
	}
	if len(v) != len("HTTP/x.y") || string(v[:5]) != "HTTP/" || v[6] != '.' ||
		v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9' {
		return 0, 0, false
	}
	return int(v[5] - '0'), int(v[7] - '0'), true
}

func internProto(v []byte) string {
	switch string(v) {
	case "HTTP/1.1":
		return "HTTP/1.1"
	case "HTTP/1.0":
		return "HTTP/1.0"
	}
	return string(v)
}

func internMethod(m []byte) string {
	switch string(m) {
	case "GET":
		return http.MethodGet
	case "POST":
		return http.MethodPost
	case "HEAD":
		return http.MethodHead
	case "PUT":
		return http.MethodPut
	case "DELETE":
		return http.MethodDelete
	case "PATCH":
		return http.MethodPatch
	case "OPTIONS":
		return http.MethodOptions
	}
	return string(m)
}

func allTokenBytes(b []byte) bool {
	for _, c := range b {
		if !isTokenByte(c) {
			return false
		}
	}
	return true
}

// validHeaderValueByte reports whether c may appear in a header value
// (VCHAR, SP, HTAB and obs-text), as net/textproto checks.
func validHeaderValueByte(c byte) bool {
	return c >= 0x20 && c != 0x7f || c == '\t'
}

// asciiEqualFoldStr reports whether s equals the lowercase ASCII t,
// ignoring case.
func asciiEqualFoldStr(s, t string) bool {
	if len(s) != len(t) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != t[i] {
			return false
		}
	}
	return true
}

// parseContentLength parses a Content-Length value as net/http does:
// decimal digits only, at most 2^63-1.
func parseContentLength(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (1<<63-1)/10 {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
		if n > 1<<63-1 {
			return 0, false
		}
	}
	return int64(n), true
}

// lastCodingChunked reports whether the last coding of a Transfer-Encoding
// list is chunked.
func lastCodingChunked(v []byte) bool {
	if i := bytes.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return asciiEqualFold(trimOWS(v), "chunked")
}

// validHostHeader reports whether h holds only the bytes net/http allows
// in a Host header (RFC 3986 reg-name, IP literals and a port).
func validHostHeader(h string) bool {
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		default:
			switch c {
			case '!', '$', '%', '&', '(', ')', '*', '+', ',', '-', '.', ':', ';', '=', '[', '\'', ']', '_', '~':
			default:
				return false
			}
		}
	}
	return true
}
