package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"reflect"
	"strings"
	"testing"
)

// The request parser of the HTTP/1.1 loop is checked against net/http's:
// where net/http's server accepts a request, parseRequestHead accepts it
// with the same method, target, URL, Host, headers, length and body, or
// refuses it with one of the documented framing refusals; where net/http
// refuses, it refuses. Seeds are in testdata/fuzz/FuzzRequestHead.

// netHTTPRequest parses data as net/http's server does: ReadRequest plus the
// checks the server adds before a handler runs.
func netHTTPRequest(data []byte) (*http.Request, []byte, error) {
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
	if err != nil {
		return nil, nil, err
	}
	// ReadRequest drops the Host header the server checks: read it again.
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(data)))
	_, _ = tp.ReadLine()
	mh, _ := tp.ReadMIMEHeader()
	hosts := mh["Host"]
	switch {
	case req.ProtoMajor != 1:
		return nil, nil, errors.New("unsupported protocol version")
	case req.ProtoMinor >= 1 && len(hosts) == 0 && req.Method != "CONNECT":
		return nil, nil, errors.New("missing required Host header")
	case len(hosts) == 1 && !validHostHeader(hosts[0]):
		return nil, nil, errors.New("malformed Host header")
	}
	for k, vv := range req.Header {
		if !validFieldName(k) {
			return nil, nil, errors.New("invalid header name")
		}
		for _, v := range vv {
			for i := 0; i < len(v); i++ {
				if !validHeaderValueByte(v[i]) {
					return nil, nil, errors.New("invalid header value")
				}
			}
		}
	}
	if ex := req.Header.Get("Expect"); ex != "" && !hasToken([]string{ex}, "100-continue") {
		return nil, nil, errors.New("expectation failed")
	}
	delete(req.Header, "Host")
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	return req, body, err
}

// documentedRefusal reports whether a refusal of a request net/http accepts
// is one of those parseRequestHead documents.
func documentedRefusal(e *headError) bool {
	return e == errHeadFraming || e == errHeadFold
}

func FuzzRequestHead(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /p?q=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
		"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n folded\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\n\r\n",
		"GET / HTTP/1.1\nHost: a\n\n",
		"GET / HTTP/1.1\r\nHost: a\x00b\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n := headEnd(data)
		if n == 0 {
			return
		}
		var h h1Head
		head := append([]byte(nil), data[:n]...)
		herr := parseRequestHead(head, &h)
		if herr == nil && h.prior {
			return
		}
		req, refBody, rerr := netHTTPRequest(data)
		if herr != nil {
			if rerr == nil && !documentedRefusal(herr) {
				t.Fatalf("refused (%d %s) what net/http accepts: %q", herr.status, herr.reason, data)
			}
			return
		}
		if rerr != nil {
			if h.chunked || strings.Contains(rerr.Error(), "body") || errors.Is(rerr, io.ErrUnexpectedEOF) ||
				strings.Contains(rerr.Error(), "chunk") {
				// A body error: the head itself was accepted; compare the
				// body reading below.
				req = nil
			} else {
				t.Fatalf("accepted what net/http refuses (%v): %q", rerr, data)
			}
		}
		rd := &h1Reader{src: bytes.NewReader(data[n:]), buf: make([]byte, 64)}
		var body h1Body
		body.reset(rd, h.contentLength)
		got, gerr := io.ReadAll(io.LimitReader(&body, 1<<20))
		if rerr != nil && strings.Contains(rerr.Error(), "EOF reading trailer") {
			// net/http peeks two bytes after the last chunk: at the end of
			// the input its verdict depends on bytes that are not there.
			return
		}
		if (gerr == nil) != (rerr == nil) {
			t.Fatalf("body error %v, net/http %v: %q", gerr, rerr, data)
		}
		if req == nil {
			return
		}
		if !bytes.Equal(got, refBody) {
			t.Fatalf("body %q, net/http %q: %q", got, refBody, data)
		}
		if h.method != req.Method || h.target != req.RequestURI || h.proto != req.Proto ||
			h.major != req.ProtoMajor || h.minor != req.ProtoMinor || h.host != req.Host ||
			h.contentLength != req.ContentLength || h.wantsClose != req.Close ||
			h.chunked != (len(req.TransferEncoding) > 0) {
			t.Fatalf("head differs: %+v vs %+v: %q", h, req, data)
		}
		if h.url != *req.URL {
			t.Fatalf("URL %#v, net/http %#v: %q", h.url, *req.URL, data)
		}
		if !reflect.DeepEqual(map[string][]string(h.hdr), map[string][]string(req.Header)) {
			t.Fatalf("headers %q, net/http %q: %q", h.hdr, req.Header, data)
		}
	})
}

// The upstream response parser is checked the same way against
// http.ReadResponse: status, length, chunking and body agree where both
// accept; where net/http refuses, it refuses.
func FuzzResponseHead(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
		"HTTP/1.1 200 OK\r\nX: a\x00\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.0 200 OK\r\n\r\nuntil close",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nx\r\nabc\r\n0\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ref, rerr := http.ReadResponse(bufio.NewReader(bytes.NewReader(data)), nil)
		if rerr == nil && ref.StatusCode < 200 {
			// ReadResponse returns an interim response; the upstream
			// reader goes on to the final one (checked in upstream_test.go).
			return
		}
		var refBody []byte
		if rerr == nil {
			refBody, rerr = io.ReadAll(io.LimitReader(ref.Body, 1<<20))
		}
		c := &upConn{br: bufio.NewReaderSize(bytes.NewReader(data), 64)}
		var resp upResponse
		err := c.readHead(&resp, false)
		if err == nil && resp.status == http.StatusSwitchingProtocols {
			return
		}
		var got []byte
		if err == nil {
			got, err = readAllBody(c, &resp)
		}
		if rerr != nil {
			if err == nil {
				t.Fatalf("accepted what net/http refuses (%v): %q", rerr, data)
			}
			return
		}
		if err != nil {
			if documentedResponseRefusal(data) {
				return
			}
			t.Fatalf("refused (%v) what net/http accepts: %q", err, data)
		}
		if resp.status != ref.StatusCode || !bytes.Equal(got, refBody) {
			t.Fatalf("status %d body %q, net/http %d %q: %q", resp.status, got, ref.StatusCode, refBody, data)
		}
		h := make(http.Header)
		c.copyHead(h, &resp)
		for k, vv := range h {
			if !reflect.DeepEqual(vv, ref.Header[k]) {
				t.Fatalf("header %s %q, net/http %q: %q", k, vv, ref.Header[k], data)
			}
		}
	})
}

// documentedResponseRefusal reports whether the upstream parser refuses a
// response net/http accepts on purpose: a status line other than
// "HTTP/1.x NNN[ reason]" with a status of 100 or more, a Transfer-Encoding
// other than chunked, more than one Transfer-Encoding line, or a
// Content-Length and Transfer-Encoding together (the upstream's framing is
// ambiguous), whitespace in a field name, and obs-fold.
func documentedResponseRefusal(data []byte) bool {
	first, _, _ := bytes.Cut(data, []byte("\n"))
	first = bytes.TrimSuffix(first, []byte("\r"))
	if len(first) < 12 || !bytes.HasPrefix(first, []byte("HTTP/1.")) || first[8] != ' ' ||
		(len(first) > 12 && first[12] != ' ') || first[9] < '1' || first[9] > '9' ||
		!allDigits(first[9:12]) {
		return true
	}
	head, _, _ := bytes.Cut(data, []byte("\n\r\n"))
	head, _, _ = bytes.Cut(head, []byte("\n\n"))
	for _, line := range bytes.Split(head, []byte("\n"))[1:] {
		if name, _, ok := bytes.Cut(line, []byte(":")); ok && bytes.ContainsAny(name, " \t") {
			return true // whitespace in a field name (RFC 9112 section 5.1)
		}
	}
	lower := bytes.ToLower(head)
	te := bytes.Count(lower, []byte("\ntransfer-encoding"))
	cl := bytes.Count(lower, []byte("\ncontent-length"))
	return te > 1 || (te > 0 && cl > 0) || bytes.Contains(lower, []byte("\n ")) ||
		bytes.Contains(lower, []byte("\n\t")) || (te == 1 && !bytes.Contains(lower, []byte("chunked")))
}

func readAllBody(c *upConn, resp *upResponse) ([]byte, error) {
	var out []byte
	buf := make([]byte, 100)
	for len(out) < 1<<20 {
		n, err := c.readBody(resp, buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
