package dashboard

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Defaults of SessionOptions.
const (
	// DefaultCodeTTL is how long a login code may be used.
	DefaultCodeTTL = 2 * time.Minute
	// DefaultSessionTTL is how long a browser session lasts.
	DefaultSessionTTL = 12 * time.Hour
	// maxCodes and maxSessions bound the memory of unused codes and of
	// sessions; the oldest is dropped beyond them.
	maxCodes    = 64
	maxSessions = 256
)

// CSRFHeader is the request header that carries a session's CSRF token on
// requests that change something.
const CSRFHeader = "X-Cutover-CSRF"

// Errors of Sessions.Check.
var (
	// ErrNoSession: the request carries no valid session cookie (401).
	ErrNoSession = errors.New("no dashboard session")
	// ErrCrossSite: a state-changing request without the session's CSRF
	// token, or from another origin (403).
	ErrCrossSite = errors.New("cross-site request refused")
)

// SessionOptions configures NewSessions.
type SessionOptions struct {
	// CodeTTL is how long a login code may be used (default DefaultCodeTTL).
	CodeTTL time.Duration
	// SessionTTL is how long a session lasts from its login (default
	// DefaultSessionTTL).
	SessionTTL time.Duration
	// Now returns the current time (default time.Now).
	Now func() time.Time
}

// Sessions holds the dashboard's one-time login codes and browser
// sessions, in memory: a restart of cutover serve logs every browser out.
// It is safe for concurrent use.
type Sessions struct {
	opts   SessionOptions
	cookie string // cookie name, distinct per server so that two servers on one host keep theirs

	mu       sync.Mutex
	codes    map[string]time.Time // code → expiry
	sessions map[string]session   // cookie value → session
}

type session struct {
	csrf    string
	expires time.Time
}

// NewSessions returns an empty session store.
func NewSessions(opts SessionOptions) *Sessions {
	if opts.CodeTTL <= 0 {
		opts.CodeTTL = DefaultCodeTTL
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = DefaultSessionTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Sessions{opts: opts, cookie: "cutover_" + randomHex(4),
		codes: map[string]time.Time{}, sessions: map[string]session{}}
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand panics rather than return an error)
	return hex.EncodeToString(b)
}

// NewCode returns a login code, usable once before it expires.
func (s *Sessions) NewCode() (code string, expires time.Time) {
	code = randomHex(16)
	now := s.opts.Now()
	expires = now.Add(s.opts.CodeTTL)
	s.mu.Lock()
	defer s.mu.Unlock()
	for c, exp := range s.codes {
		if !exp.After(now) {
			delete(s.codes, c)
		}
	}
	if len(s.codes) >= maxCodes {
		dropOldest(s.codes, func(t time.Time) time.Time { return t })
	}
	s.codes[code] = expires
	return code, expires
}

// dropOldest deletes the entry of m that expires first.
func dropOldest[V any](m map[string]V, expiry func(V) time.Time) {
	var oldest string
	var at time.Time
	for k, v := range m {
		if e := expiry(v); oldest == "" || e.Before(at) {
			oldest, at = k, e
		}
	}
	delete(m, oldest)
}

// login exchanges a code for a new session; it returns the cookie value.
func (s *Sessions) login(code string) (string, time.Time, bool) {
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.codes[code]
	delete(s.codes, code)
	if !ok || !exp.After(now) {
		return "", time.Time{}, false
	}
	for k, v := range s.sessions {
		if !v.expires.After(now) {
			delete(s.sessions, k)
		}
	}
	if len(s.sessions) >= maxSessions {
		dropOldest(s.sessions, func(v session) time.Time { return v.expires })
	}
	id := randomHex(32)
	sess := session{csrf: randomHex(16), expires: now.Add(s.opts.SessionTTL)}
	s.sessions[id] = sess
	return id, sess.expires, true
}

// lookup returns the session of r's cookie.
func (s *Sessions) lookup(r *http.Request) (session, bool) {
	c, err := r.Cookie(s.cookie)
	if err != nil || c.Value == "" {
		return session{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[c.Value]
	if !ok || !sess.expires.After(s.opts.Now()) {
		return session{}, false
	}
	return sess, true
}

// HasCookie reports whether r carries this server's session cookie, valid
// or not.
func (s *Sessions) HasCookie(r *http.Request) bool {
	_, err := r.Cookie(s.cookie)
	return err == nil
}

// Check authenticates a browser request: it needs a valid session cookie
// (ErrNoSession otherwise), and a request other than GET, HEAD or OPTIONS
// also needs the session's token in CSRFHeader, an Origin header (when
// sent) naming the listener it came to, and no Sec-Fetch-Site other than
// same-origin (ErrCrossSite otherwise). The session cookie is SameSite=Strict
// as well, so a cross-site request normally does not carry it at all.
func (s *Sessions) Check(r *http.Request) error {
	sess, ok := s.lookup(r)
	if !ok {
		return ErrNoSession
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	got := r.Header.Get(CSRFHeader)
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(sess.csrf)) != 1 {
		return ErrCrossSite
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return ErrCrossSite
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return ErrCrossSite
		}
	}
	return nil
}

// Login serves GET /ui/login?code=...: a valid, unused code starts a
// session (a cookie scoped to the listener's host) and redirects to the
// page; anything else gets 401 with a page that says how to get a code.
func (s *Sessions) Login(w http.ResponseWriter, r *http.Request) {
	id, exp, ok := s.login(r.URL.Query().Get("code"))
	if !ok {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(loginHelp))
		return
	}
	http.SetCookie(w, &http.Cookie{Name: s.cookie, Value: id, Path: "/", Expires: exp, HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, "/ui/", http.StatusSeeOther)
}

// Info serves GET /ui/session: the session's CSRF token and expiry, for
// the page (a cross-origin page cannot read it).
func (s *Sessions) Info(r *http.Request) (csrf string, expires time.Time, ok bool) {
	sess, ok := s.lookup(r)
	return sess.csrf, sess.expires, ok
}

// loginHelp is the page of a login without a valid code.
const loginHelp = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>cutover: log in</title></head>
<body style="font-family:system-ui,sans-serif;max-width:40em;margin:3em auto">
<h1>Not logged in</h1>
<p>This login link is unknown, used already or expired (links work once, for two minutes).</p>
<p>Run <code>cutover dashboard</code> on the server (or with <code>--admin</code> and <code>--token</code>) for a new link.</p>
</body></html>
`
