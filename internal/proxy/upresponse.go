package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
)

// Limits on an upstream response head.
const (
	maxResponseFields = 512
	maxInterimReplies = 16
)

var (
	errMalformedResponse = errors.New("malformed upstream response")
	errResponseHead      = errors.New("upstream response head too large")
	errChunk             = errors.New("malformed chunked upstream body")
)

// upResponse is the parsed head of an upstream response and the state of
// reading its body.
type upResponse struct {
	status      int
	contentLen  int64 // -1: unknown (chunked or until close)
	chunked     bool
	closeAfter  bool // the connection cannot carry another request
	eventStream bool
	upgrade     string
	gotBytes    bool // any byte of a response arrived
	connListed  []string
	trailers    []headerPair

	// Body reading state.
	noBody    bool
	remaining int64 // Content-Length bytes left, or bytes left in the current chunk
	chunkCRLF bool  // a chunk's trailing CRLF is due
	done      bool
}

type headerPair struct{ k, v string }

// maxHeadLine bounds one line of an upstream response head, chunk header or
// trailer section; longer lines are errResponseHead.
const maxHeadLine = 64 << 10

// readLine returns the next line of the response head without its line
// ending. A line longer than the read buffer is gathered in c.long, up to
// maxHeadLine. The slice is valid until the next read.
func (c *upConn) readLine() ([]byte, error) {
	line, err := c.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		c.long = append(c.long[:0], line...)
		for err == bufio.ErrBufferFull {
			if len(c.long) > maxHeadLine {
				return nil, errResponseHead
			}
			line, err = c.br.ReadSlice('\n')
			c.long = append(c.long, line...)
		}
		line = c.long
		if len(line) > maxHeadLine {
			return nil, errResponseHead
		}
	}
	if err != nil {
		if err == io.EOF && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	c.lastCR = false
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line, c.lastCR = line[:n-1], true
	}
	return line, nil
}

// readHead reads the status line and headers of the final response,
// skipping interim (1xx) responses other than 101.
func (c *upConn) readHead(resp *upResponse, head bool) error {
	for interim := 0; ; interim++ {
		if interim > maxInterimReplies {
			return errMalformedResponse
		}
		if err := c.readOneHead(resp); err != nil {
			return err
		}
		if resp.status >= 200 || resp.status == http.StatusSwitchingProtocols {
			break
		}
	}
	switch {
	case head || resp.status < 200 || resp.status == http.StatusNoContent || resp.status == http.StatusNotModified:
		resp.noBody = true
		resp.contentLen = 0
		if resp.status == http.StatusSwitchingProtocols {
			resp.closeAfter = true
		}
	case resp.chunked:
		resp.contentLen = -1
	case resp.contentLen >= 0:
		resp.remaining = resp.contentLen
	default:
		// Delimited by the connection closing.
		resp.closeAfter = true
	}
	return nil
}

// bodyBuffered reports whether the rest of the response, whose head was
// just read, is already among the buffered bytes of its connection, so
// that nothing more is read from the connection for this exchange.
func (resp *upResponse) bodyBuffered(buffered int) bool {
	if resp.status == http.StatusSwitchingProtocols {
		return false
	}
	if resp.noBody {
		return true
	}
	return !resp.chunked && resp.contentLen >= 0 && resp.remaining <= int64(buffered)
}

// readOneHead parses one response head into resp and c's scratch fields.
func (c *upConn) readOneHead(resp *upResponse) error {
	*resp = upResponse{gotBytes: resp.gotBytes, contentLen: -1}
	c.fields, c.vals = c.fields[:0], c.vals[:0]
	if c.br.Buffered() > 0 {
		resp.gotBytes = true
	}
	line, err := c.readLine()
	if len(line) > 0 || err == nil {
		resp.gotBytes = true
	}
	if err != nil {
		return err
	}
	// "HTTP/1.x NNN reason"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' ||
		(len(line) > 12 && line[12] != ' ') {
		return errMalformedResponse
	}
	minor := line[7]
	if minor < '0' || minor > '9' {
		return errMalformedResponse
	}
	status := 0
	for _, d := range line[9:12] {
		if d < '0' || d > '9' {
			return errMalformedResponse
		}
		status = status*10 + int(d-'0')
	}
	if status < 100 {
		return errMalformedResponse
	}
	resp.status = status
	keepAlive10 := false
	for {
		line, err := c.readLine()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		if len(line) == 0 {
			break
		}
		if len(c.fields) >= maxResponseFields {
			return errResponseHead
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || bytes.IndexByte(line, '\r') >= 0 {
			// No name, or a CR that does not end the line (net/http
			// refuses both).
			return errMalformedResponse
		}
		kb := line[:colon]
		if !canonicalizeKey(kb) {
			return errMalformedResponse
		}
		v := bytes.Trim(line[colon+1:], " \t") // SP and HTAB only: other controls make the line malformed
		for _, ch := range v {
			if !validHeaderValueByte(ch) {
				return errMalformedResponse
			}
		}
		key := internKey(kb)
		switch key {
		case "Content-Length":
			n, ok := parseContentLength(v)
			if !ok || (resp.contentLen >= 0 && resp.contentLen != n) {
				return errMalformedResponse
			}
			resp.contentLen = n
		case "Transfer-Encoding":
			if minor == '0' {
				// HTTP/1.0 has no transfer codings: the body is framed by
				// Content-Length or the connection's end, as net/http
				// reads it; the connection is not reused after it.
				resp.closeAfter = true
				continue
			}
			resp.chunked = hasTokenBytes(v, "chunked")
			if !resp.chunked {
				return errMalformedResponse
			}
			continue
		case "Connection":
			if hasTokenBytes(v, "close") {
				resp.closeAfter = true
			}
			if hasTokenBytes(v, "keep-alive") {
				keepAlive10 = true
			}
			resp.connListed = append(resp.connListed, connectionListed([]string{string(v)})...)
			continue
		case "Upgrade":
			resp.upgrade = string(v)
			continue
		case "Content-Type":
			resp.eventStream = bytes.HasPrefix(v, []byte("text/event-stream"))
		}
		if isHopHeader(key) {
			continue
		}
		start := len(c.vals)
		c.vals = append(c.vals, v...)
		c.fields = append(c.fields, headerField{key: key, start: start, end: len(c.vals)})
	}
	if resp.chunked {
		resp.contentLen = -1
		// RFC 9112 section 6.3: Transfer-Encoding overrides
		// Content-Length, which must not be passed on.
		k := 0
		for _, f := range c.fields {
			if f.key != "Content-Length" {
				c.fields[k] = f
				k++
			}
		}
		c.fields = c.fields[:k]
	}
	if minor == '0' && !keepAlive10 {
		resp.closeAfter = true
	}
	return nil
}

// copyHead adds the end-to-end headers of the parsed response to h with
// one string and one slice allocation for all values.
func (c *upConn) copyHead(h http.Header, resp *upResponse) {
	if len(c.fields) == 0 {
		return
	}
	all := string(c.vals)
	vals := make([]string, len(c.fields))
	for i, f := range c.fields {
		if len(resp.connListed) > 0 && contains(resp.connListed, f.key) {
			continue
		}
		vals[i] = all[f.start:f.end]
		if prev, ok := h[f.key]; ok {
			h[f.key] = append(prev, vals[i])
		} else {
			h[f.key] = vals[i : i+1 : i+1]
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// readBody reads the response body. It returns io.EOF at its clean end.
func (c *upConn) readBody(resp *upResponse, p []byte) (int, error) {
	if resp.noBody {
		resp.done = true
	}
	if resp.done {
		return 0, io.EOF
	}
	switch {
	case resp.chunked:
		return c.readChunked(resp, p)
	case resp.contentLen >= 0:
		if resp.remaining == 0 {
			resp.done = true
			return 0, io.EOF
		}
		if int64(len(p)) > resp.remaining {
			p = p[:resp.remaining]
		}
		n, err := c.br.Read(p)
		resp.remaining -= int64(n)
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if err == nil && resp.remaining == 0 {
			resp.done = true
		}
		return n, err
	default:
		n, err := c.br.Read(p)
		if err == io.EOF {
			resp.done = true
		}
		return n, err
	}
}

func (c *upConn) readChunked(resp *upResponse, p []byte) (int, error) {
	if resp.remaining == 0 {
		if resp.chunkCRLF {
			line, err := c.readLine()
			if err != nil {
				return 0, chunkErr(err)
			}
			if len(line) != 0 || !c.lastCR {
				return 0, errChunk
			}
			resp.chunkCRLF = false
		}
		line, err := c.readLine()
		if err != nil {
			return 0, chunkErr(err)
		}
		if !c.lastCR || bytes.IndexByte(line, '\r') >= 0 {
			return 0, errChunk // a bare LF or a CR inside the size line, as net/http refuses
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, ok := parseUint(bytes.TrimSpace(line), 16)
		if !ok {
			return 0, errChunk
		}
		if size == 0 {
			if err := c.readTrailers(resp); err != nil {
				return 0, chunkErr(err)
			}
			resp.done = true
			return 0, io.EOF
		}
		resp.remaining = int64(size)
		resp.chunkCRLF = true
	}
	if int64(len(p)) > resp.remaining {
		p = p[:resp.remaining]
	}
	n, err := c.br.Read(p)
	resp.remaining -= int64(n)
	if err != nil {
		return n, chunkErr(err)
	}
	return n, nil
}

func chunkErr(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readTrailers reads the trailer section after the last chunk.
func (c *upConn) readTrailers(resp *upResponse) error {
	// As net/http: the section ends in CRLF right away, or its last line
	// and the empty line both end in CRLF; a bare LF there is refused.
	prevCR := true
	for n := 0; ; n++ {
		line, err := c.readLine()
		if err != nil {
			return err
		}
		if len(line) == 0 {
			if !c.lastCR || !prevCR {
				return errChunk
			}
			return nil
		}
		prevCR = c.lastCR
		if n >= maxResponseFields {
			return errResponseHead
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !canonicalizeKey(line[:colon]) {
			return errChunk
		}
		k := internKey(line[:colon])
		if isHopHeader(k) || k == "Content-Length" {
			continue
		}
		v := bytes.Trim(line[colon+1:], " \t")
		for _, ch := range v {
			if !validHeaderValueByte(ch) || ch == '\r' {
				return errChunk
			}
		}
		resp.trailers = append(resp.trailers, headerPair{k, string(v)})
	}
}

// parseUint parses a non-empty decimal or hexadecimal number below 2^60.
func parseUint(b []byte, base int64) (int64, bool) {
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	var n int64
	for _, ch := range b {
		var d int64
		switch {
		case '0' <= ch && ch <= '9':
			d = int64(ch - '0')
		case base == 16 && 'a' <= ch && ch <= 'f':
			d = int64(ch-'a') + 10
		case base == 16 && 'A' <= ch && ch <= 'F':
			d = int64(ch-'A') + 10
		default:
			return 0, false
		}
		n = n*base + d
	}
	return n, true
}

// hasTokenBytes reports whether a comma-separated value contains token,
// ignoring case.
func hasTokenBytes(v []byte, token string) bool {
	for len(v) > 0 {
		var tok []byte
		tok, v, _ = bytes.Cut(v, []byte{','})
		if bytes.EqualFold(bytes.TrimSpace(tok), []byte(token)) {
			return true
		}
	}
	return false
}

// canonicalizeKey rewrites a header name in place to its canonical form
// ("content-type" to "Content-Type"). It reports false for a name with a
// byte outside the token set.
func canonicalizeKey(b []byte) bool {
	upper := true
	for i, ch := range b {
		if !isTokenByte(ch) {
			return false
		}
		switch {
		case upper && 'a' <= ch && ch <= 'z':
			b[i] = ch - ('a' - 'A')
		case !upper && 'A' <= ch && ch <= 'Z':
			b[i] = ch + ('a' - 'A')
		}
		upper = ch == '-'
	}
	return len(b) > 0
}

func isTokenByte(ch byte) bool {
	switch {
	case 'a' <= ch && ch <= 'z', 'A' <= ch && ch <= 'Z', '0' <= ch && ch <= '9':
		return true
	}
	switch ch {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// internKey returns a canonical header name, without allocating for
// common names.
func internKey(b []byte) string {
	switch string(b) {
	case "Content-Type":
		return "Content-Type"
	case "Content-Length":
		return "Content-Length"
	case "Date":
		return "Date"
	case "Server":
		return "Server"
	case "Connection":
		return "Connection"
	case "Keep-Alive":
		return "Keep-Alive"
	case "Transfer-Encoding":
		return "Transfer-Encoding"
	case "Cache-Control":
		return "Cache-Control"
	case "Set-Cookie":
		return "Set-Cookie"
	case "Location":
		return "Location"
	case "Etag":
		return "Etag"
	case "Last-Modified":
		return "Last-Modified"
	case "Vary":
		return "Vary"
	case "Expires":
		return "Expires"
	case "Pragma":
		return "Pragma"
	case "Age":
		return "Age"
	case "Content-Encoding":
		return "Content-Encoding"
	case "Content-Language":
		return "Content-Language"
	case "Content-Disposition":
		return "Content-Disposition"
	case "Content-Range":
		return "Content-Range"
	case "Accept-Ranges":
		return "Accept-Ranges"
	case "Upgrade":
		return "Upgrade"
	case "Trailer":
		return "Trailer"
	case "Link":
		return "Link"
	case "Retry-After":
		return "Retry-After"
	case "Www-Authenticate":
		return "Www-Authenticate"
	case "Strict-Transport-Security":
		return "Strict-Transport-Security"
	case "Content-Security-Policy":
		return "Content-Security-Policy"
	case "X-Content-Type-Options":
		return "X-Content-Type-Options"
	case "X-Frame-Options":
		return "X-Frame-Options"
	case "X-Xss-Protection":
		return "X-Xss-Protection"
	case "Referrer-Policy":
		return "Referrer-Policy"
	case "Access-Control-Allow-Origin":
		return "Access-Control-Allow-Origin"
	case "Access-Control-Allow-Credentials":
		return "Access-Control-Allow-Credentials"
	case "Alt-Svc":
		return "Alt-Svc"
	case "X-Request-Id":
		return "X-Request-Id"
	case "X-Powered-By":
		return "X-Powered-By"
	case "Sec-Websocket-Accept":
		return "Sec-Websocket-Accept"
	case "Sec-Websocket-Protocol":
		return "Sec-Websocket-Protocol"
	case "Sec-Websocket-Extensions":
		return "Sec-Websocket-Extensions"
	}
	return string(b)
}
