package api

import (
	"log/slog"
	"net/http"
	"time"
)

// handlerFunc is an API handler; a returned error is written as an error
// response (so it must be returned before anything is written).
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// routes registers every endpoint.
func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	handle := func(pattern string, h handlerFunc) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			if err := h(w, r); err != nil {
				writeError(w, toError(err))
			}
		})
	}
	handle("GET /v1/health", s.health)
	handle("GET /v1/services", s.listServices)
	handle("GET /v1/services/{name}", s.getService)
	handle("GET /v1/services/{name}/history", s.history)
	handle("GET /v1/services/{name}/logs", s.logs)
	handle("POST /v1/services/{name}/deploy", s.deploy)
	handle("POST /v1/services/{name}/rollback", s.rollback)
	handle("POST /v1/services/{name}/promote", s.control(Backend.Promote))
	handle("POST /v1/services/{name}/abort", s.control(Backend.Abort))
	handle("POST /v1/services/{name}/pause", s.control(Backend.Pause))
	handle("POST /v1/services/{name}/resume", s.control(Backend.Resume))
	handle("POST /v1/services/{name}/weight", s.setWeight)
	handle("GET /v1/events", s.events)
	handle("GET /v1/fleet", s.getFleet)
	handle("DELETE /v1/fleet/hosts/{host}", s.removeHost)
	handle("POST /v1/reload", s.reload)
	handle("POST /v1/upgrade", s.upgrade)
	handle("GET /v1/config", s.getConfig)
	handle("GET /metrics", s.metrics)
	s.dashboardRoutes(mux)
	return mux
}

// handler returns the handler of one listener: the routes with JSON
// 404/405 responses and request logging, behind the listener's access
// rule (see authenticate: the token or a dashboard session on TCP).
func (s *Server) handler(tcp bool) http.Handler {
	return s.logRequests(s.authenticate(tcp, http.HandlerFunc(s.dispatch)))
}

// dispatch serves r with the mux, answering unknown paths and methods with
// JSON errors instead of the mux's plain text.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request) {
	h, pattern := s.mux.Handler(r)
	if pattern != "" {
		s.mux.ServeHTTP(w, r)
		return
	}
	probe := &statusProbe{header: http.Header{}}
	h.ServeHTTP(probe, r)
	if probe.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", probe.header.Get("Allow"))
		writeError(w, &Error{Status: http.StatusMethodNotAllowed, Code: CodeMethodNotAllowed,
			Message: r.Method + " is not allowed on " + r.URL.Path + "; allowed: " + probe.header.Get("Allow")})
		return
	}
	writeError(w, &Error{Status: http.StatusNotFound, Code: CodeNotFound,
		Message: "no such endpoint: " + r.Method + " " + r.URL.Path})
}

// statusProbe records the status a handler would write, discarding the body.
type statusProbe struct {
	header http.Header
	status int
}

func (p *statusProbe) Header() http.Header         { return p.header }
func (p *statusProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *statusProbe) WriteHeader(status int)      { p.status = status }

// logRequests logs each request: failures at error level, changes (POST) at
// info level, reads at debug level.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		level := slog.LevelDebug
		switch {
		case rec.status >= 500:
			level = slog.LevelError
		case r.Method == http.MethodPost:
			level = slog.LevelInfo
		}
		s.log.Log(r.Context(), level, "admin api request", "method", r.Method, "path", r.URL.Path,
			"status", rec.status, "duration", time.Since(start))
	})
}

// statusRecorder remembers the status written through it. Unwrap lets
// http.ResponseController reach the connection (for Flush and deadlines).
type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *statusRecorder) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
