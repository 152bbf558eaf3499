package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// requireToken wraps next so that requests must carry "Authorization:
// Bearer <token>". The comparison takes constant time (both sides are
// hashed first, so not even the token's length leaks).
func (s *Server) requireToken(next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(s.opts.Token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := bearer(r)
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
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
