package proxy

import (
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"strings"
)

// isHopHeader reports whether the canonical header key k is hop-by-hop
// (RFC 9110 section 7.6.1) and must not be forwarded.
func isHopHeader(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// copyEndToEnd copies the end-to-end headers of src into dst, sharing the
// value slices (neither side modifies them).
func copyEndToEnd(dst, src http.Header) {
	for k, vv := range src {
		if !isHopHeader(k) {
			dst[k] = vv
		}
	}
	removeConnectionListed(dst, src["Connection"])
}

// removeConnectionListed deletes from h the headers named by the
// Connection header values conn.
func removeConnectionListed(h http.Header, conn []string) {
	for _, v := range conn {
		for v != "" {
			var tok string
			tok, v, _ = strings.Cut(v, ",")
			tok = textproto.TrimString(tok)
			switch {
			case tok == "", strings.EqualFold(tok, "close"), strings.EqualFold(tok, "keep-alive"),
				strings.EqualFold(tok, "upgrade"):
				continue
			}
			delete(h, textproto.CanonicalMIMEHeaderKey(tok))
		}
	}
}

// hasToken reports whether a comma-separated header value list contains
// token, ignoring case.
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for v != "" {
			var tok string
			tok, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(textproto.TrimString(tok), token) {
				return true
			}
		}
	}
	return false
}

// upgradeType returns the protocol an HTTP/1.1 request or response asks to
// switch to, or "".
func upgradeType(h http.Header) string {
	if !hasToken(h["Connection"], "upgrade") {
		return ""
	}
	return h.Get("Upgrade")
}

// clientHost returns the client IP of a server request as written in
// RemoteAddr, without allocating.
func clientHost(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	return host
}

// isTrusted reports whether the client host is inside a trusted network.
func (p *Proxy) isTrusted(host string) bool {
	if len(p.trusted) == 0 {
		return false
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	addr = addr.Unmap()
	for _, pfx := range p.trusted {
		if pfx.Contains(addr) {
			return true
		}
	}
	return false
}

// setForwarded writes X-Forwarded-For, -Proto, -Host and X-Request-Id into
// out (a copy of in's end-to-end headers) and returns the request ID. From
// a trusted client existing values are kept (X-Forwarded-For is appended
// to); from any other client they are replaced.
func (p *Proxy) setForwarded(out http.Header, r *http.Request) string {
	host := clientHost(r.RemoteAddr)
	trusted := p.isTrusted(host)
	vals := make([]string, 4)
	if prior := r.Header["X-Forwarded-For"]; trusted && len(prior) > 0 {
		vals[0] = strings.Join(prior, ", ") + ", " + host
	} else {
		vals[0] = host
	}
	out["X-Forwarded-For"] = vals[0:1:1]
	if !trusted || r.Header.Get("X-Forwarded-Proto") == "" {
		if r.TLS != nil {
			vals[1] = "https"
		} else {
			vals[1] = "http"
		}
		out["X-Forwarded-Proto"] = vals[1:2:2]
	}
	if !trusted || r.Header.Get("X-Forwarded-Host") == "" {
		vals[2] = r.Host
		out["X-Forwarded-Host"] = vals[2:3:3]
	}
	id := ""
	if trusted {
		id = r.Header.Get("X-Request-Id")
	}
	if id == "" {
		id = newRequestID()
		vals[3] = id
		out["X-Request-Id"] = vals[3:4:4]
	}
	if !trusted {
		delete(out, "Forwarded")
	}
	return id
}

// newRequestID returns 32 random hex digits.
func newRequestID() string {
	const hexDigits = "0123456789abcdef"
	var b [32]byte
	a, c := rand.Uint64(), rand.Uint64()
	for i := 0; i < 16; i++ {
		b[i] = hexDigits[a&0xf]
		b[16+i] = hexDigits[c&0xf]
		a >>= 4
		c >>= 4
	}
	return string(b[:])
}
