package proxy

import "strings"

// hostOnly returns h without a port; "[::1]:80" becomes "::1". It does not
// allocate.
func hostOnly(h string) string {
	if h == "" {
		return h
	}
	if h[0] == '[' {
		if end := strings.IndexByte(h, ']'); end > 0 {
			return h[1:end]
		}
		return h
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 && strings.IndexByte(h, ':') == i {
		return h[:i]
	}
	return h
}

// lowerHost returns h in lower case, without allocating when it already is.
func lowerHost(h string) string {
	for i := 0; i < len(h); i++ {
		if c := h[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(h)
		}
	}
	return h
}

// hasPathPrefix reports whether path is prefix or lies below it. prefix is
// normalised ("/" or without a trailing slash).
func hasPathPrefix(path, prefix string) bool {
	if prefix == "/" {
		return true
	}
	if !strings.HasPrefix(path, prefix) {
		return false
	}
	return len(path) == len(prefix) || path[len(prefix)] == '/'
}

// stripPathPrefix removes prefix from path, keeping a leading slash.
func stripPathPrefix(path, prefix string) string {
	if prefix == "/" || !strings.HasPrefix(path, prefix) {
		return path
	}
	rest := path[len(prefix):]
	if rest == "" {
		return "/"
	}
	return rest
}
