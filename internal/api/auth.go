package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// requireToken wraps next so that requests must carry "Authorization:
// Bearer <token>". The comparison takes constant time (both sides are
// hashed first, so not even the token's length leaks). Failed attempts are
// rate-limited per client IP (see authLimiter): a client over the limit
// gets 429 with Retry-After before its token is even looked at.
func (s *Server) requireToken(next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(s.opts.Token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := clientIP(r)
		if wait := s.limiter.retryAfter(ip); wait > 0 {
			s.log.Warn("admin api request refused: too many failed token attempts", "remote", r.RemoteAddr,
				"path", r.URL.Path, "retry_after", wait)
			w.Header().Set("Retry-After", retryAfterSeconds(wait))
			writeError(w, &Error{Status: http.StatusTooManyRequests, Code: CodeTooManyAttempts,
				Message: "too many failed token attempts from " + ip + "; retry after " + retryAfterSeconds(wait) + "s"})
			return
		}
		got, ok := bearer(r)
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			s.limiter.fail(ip)
			s.log.Warn("admin api request refused", "remote", r.RemoteAddr, "path", r.URL.Path, "token_sent", ok)
			w.Header().Set("WWW-Authenticate", `Bearer realm="cutover"`)
			msg := "missing bearer token; send Authorization: Bearer <token> (cutover --token or CUTOVER_TOKEN)"
			if ok {
				msg = "wrong bearer token"
			}
			writeError(w, &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized, Message: msg})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// bearer returns the token of an "Authorization: Bearer" header.
func bearer(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}
