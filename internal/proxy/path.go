package proxy

import (
	"net/http"
	"net/url"
	"strings"
)

// requestPath returns the normalised path of r, or false when the request
// must be refused. "OPTIONS *" keeps its "*".
func requestPath(r *http.Request) (string, bool) {
	if r.URL.Path == "*" && r.Method == http.MethodOptions {
		return "*", true
	}
	return normalizePath(r.URL.EscapedPath())
}

// normalizePath returns the form of the escaped request path p that
// requests are routed on and forwarded with, and false when p cannot be
// normalised safely (the request then gets 400). The rules follow what
// nginx does before matching a location:
//
//   - percent-encoded unreserved characters (RFC 3986 section 2.3) are
//     decoded, and the hex digits of the other escapes are upper-cased;
//   - empty segments are removed ("//" becomes "/", as with nginx's
//     default merge_slashes on);
//   - dot segments ("." and "..", also written %2E) are removed as in RFC
//     3986 section 5.2.4; a ".." above the root is refused;
//   - an encoded "/" (%2F) or "\" (%5C) stays encoded and so does not
//     separate segments, but a segment that holds one next to a dot
//     segment ("..%2F", "%2F..") is refused, and so is %00 anywhere.
//
// A path that needs none of this is returned as is, without allocating.
func normalizePath(p string) (string, bool) {
	if p == "" {
		return "/", true
	}
	if p[0] != '/' {
		return "", false
	}
	if isNormalPath(p) {
		return p, true
	}
	segs := make([]string, 0, strings.Count(p, "/"))
	var buf strings.Builder
	rest := p[1:]
	trailing := false
	for {
		raw, more, found := strings.Cut(rest, "/")
		seg, sep, ok := decodeSegment(raw, &buf)
		if !ok {
			return "", false
		}
		last := !found
		switch {
		case seg == "":
			trailing = last && len(segs) > 0
		case seg == ".":
			trailing = last
		case seg == "..":
			if len(segs) == 0 {
				return "", false
			}
			segs = segs[:len(segs)-1]
			trailing = last
		default:
			if sep && hasDotPart(seg) {
				return "", false
			}
			segs = append(segs, seg)
			trailing = false
		}
		if last {
			break
		}
		rest = more
	}
	n := 1
	for _, s := range segs {
		n += len(s) + 1
	}
	buf.Reset()
	buf.Grow(n)
	for _, s := range segs {
		buf.WriteByte('/')
		buf.WriteString(s)
	}
	if trailing || len(segs) == 0 {
		buf.WriteByte('/')
	}
	return buf.String(), true
}

// isNormalPath reports whether p (starting with "/") needs no change: no
// escapes, no empty and no dot segments.
func isNormalPath(p string) bool {
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '%':
			return false
		case '/':
			if i+1 < len(p) && (p[i+1] == '/' || p[i+1] == '.') {
				if p[i+1] == '/' {
					return false
				}
				// "/." starts a dot segment only when the segment is "." or "..".
				j := i + 2
				if j < len(p) && p[j] == '.' {
					j++
				}
				if j == len(p) || p[j] == '/' {
					return false
				}
			}
		}
	}
	return true
}

// decodeSegment decodes the unreserved escapes of one raw segment and
// reports whether it holds an encoded separator, or false for %00 or an
// invalid escape. buf is scratch space.
func decodeSegment(raw string, buf *strings.Builder) (seg string, sep, ok bool) {
	if strings.IndexByte(raw, '%') < 0 {
		return raw, false, true
	}
	buf.Reset()
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '%' {
			buf.WriteByte(c)
			continue
		}
		if i+2 >= len(raw) || hexVal(raw[i+1]) < 0 || hexVal(raw[i+2]) < 0 {
			return "", false, false
		}
		d := byte(hexVal(raw[i+1])<<4 | hexVal(raw[i+2]))
		i += 2
		switch {
		case d == 0:
			return "", false, false
		case isUnreserved(d):
			buf.WriteByte(d)
		default:
			if d == '/' || d == '\\' {
				sep = true
			}
			const upperHex = "0123456789ABCDEF"
			buf.WriteByte('%')
			buf.WriteByte(upperHex[d>>4])
			buf.WriteByte(upperHex[d&0xf])
		}
	}
	return buf.String(), sep, true
}

// hasDotPart reports whether a segment split at its encoded separators has
// a "." or ".." part.
func hasDotPart(seg string) bool {
	for seg != "" {
		i := strings.Index(seg, "%2F")
		j := strings.Index(seg, "%5C")
		if i < 0 || (j >= 0 && j < i) {
			i = j
		}
		part := seg
		if i >= 0 {
			part, seg = seg[:i], seg[i+3:]
		} else {
			seg = ""
		}
		if part == "." || part == ".." {
			return true
		}
	}
	return false
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// prefixForMatch returns a configured (unescaped) path prefix in the form
// normalizePath gives request paths.
func prefixForMatch(prefix string) string {
	esc := (&url.URL{Path: prefix}).EscapedPath()
	if n, ok := normalizePath(esc); ok {
		if len(n) > 1 {
			n = strings.TrimSuffix(n, "/")
		}
		return n
	}
	return esc
}
