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

// requestID is a generated request ID: 32 random hex digits, kept as bytes
// so that a request whose ID is only sent upstream needs no string.
type requestID [32]byte

// newRequestID fills id with 32 random hex digits.
func newRequestID(id *requestID) {
	const hexDigits = "0123456789abcdef"
	a, c := rand.Uint64(), rand.Uint64()
	for i := 0; i < 16; i++ {
		id[i] = hexDigits[a&0xf]
		id[16+i] = hexDigits[c&0xf]
		a >>= 4
		c >>= 4
	}
}
