package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/cutover-dev/cutover/internal/dashboard"
)

// CodeCrossSite: a browser request that changes something came without
// its session's CSRF token or from another origin (403).
const CodeCrossSite = "cross_site"

// DashboardLogin is the answer of POST /v1/dashboard/login: a one-time
// login to the dashboard. Open Path (on the admin listener, or on the port
// of `cutover dashboard`) before Expires.
type DashboardLogin struct {
	// Code is the one-time login code; Path opens the dashboard with it.
	Code    string    `json:"code"`
	Path    string    `json:"path"`
	Expires time.Time `json:"expires"`
}

// dashboardRoutes registers the page, its login and the traffic stream.
func (s *Server) dashboardRoutes(mux *http.ServeMux) {
	ui := s.ui
	mux.HandleFunc("GET /ui/{$}", ui.ServePage)
	mux.HandleFunc("GET /ui/{file}", ui.ServePage)
	mux.HandleFunc("GET /ui/login", ui.Sessions().Login)
	mux.HandleFunc("GET /ui/session", ui.ServeSession)
	mux.HandleFunc("GET /ui", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ui/", http.StatusMovedPermanently)
	})
	mux.HandleFunc("GET /v1/traffic", ui.ServeTraffic)
	mux.HandleFunc("POST /v1/dashboard/login", func(w http.ResponseWriter, r *http.Request) {
		if err := decodeBody(w, r, &emptyBody{}, true); err != nil {
			writeError(w, toError(err))
			return
		}
		code, exp := ui.Sessions().NewCode()
		writeJSON(w, http.StatusOK, DashboardLogin{Code: code, Path: "/ui/login?code=" + code, Expires: exp})
	})
}

// authenticate puts the listener's access rule in front of next. On the
// unix socket a request needs nothing (the socket's file mode decides who
// connects), unless it came through `cutover dashboard` (ForwardedHeader):
// then, as on TCP, it needs a dashboard session. On TCP a request needs
// the bearer token or a dashboard session. A session's request that
// changes something must pass the CSRF check (dashboard.Sessions.Check).
// GET /ui/login, which exchanges a one-time code for a session, is open.
func (s *Server) authenticate(tcp bool, next http.Handler) http.Handler {
	withToken := next
	if tcp {
		withToken = s.requireToken(next)
	}
	sessions := s.ui.Sessions()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		forwarded := !tcp && r.Header.Get(dashboard.ForwardedHeader) != ""
		if !tcp && !forwarded {
			next.ServeHTTP(w, r)
			return
		}
		if r.Method == http.MethodGet && r.URL.Path == "/ui/login" {
			next.ServeHTTP(w, r)
			return
		}
		if _, ok := bearer(r); tcp && ok {
			withToken.ServeHTTP(w, r)
			return
		}
		err := sessions.Check(r)
		switch {
		case err == nil:
			next.ServeHTTP(w, r)
		case errors.Is(err, dashboard.ErrCrossSite):
			s.log.Warn("admin api request refused: cross-site", "remote", r.RemoteAddr, "path", r.URL.Path,
				"origin", r.Header.Get("Origin"))
			writeError(w, &Error{Status: http.StatusForbidden, Code: CodeCrossSite,
				Message: "a dashboard request that changes something needs the " + dashboard.CSRFHeader +
					" header of its session and must come from the dashboard's own origin"})
		case forwarded || sessions.HasCookie(r):
			s.log.Warn("admin api request refused: no dashboard session", "remote", r.RemoteAddr, "path", r.URL.Path,
				"forwarded", forwarded)
			writeError(w, &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized,
				Message: "no valid dashboard session (expired, or the server restarted); run cutover dashboard for a new login link"})
		default:
			withToken.ServeHTTP(w, r)
		}
	})
}

// DashboardLogin asks for a one-time dashboard login code.
func (c *Client) DashboardLogin(ctx context.Context) (DashboardLogin, error) {
	var out DashboardLogin
	err := c.do(ctx, http.MethodPost, "/v1/dashboard/login", struct{}{}, &out)
	return out, err
}
