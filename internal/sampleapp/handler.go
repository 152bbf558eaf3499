package sampleapp

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// app serves the sample app's endpoints. It is safe for concurrent use.
type app struct {
	opts options
	// port is the port actually listened on.
	port int
	// streams is cancelled when the server shuts down, ending event streams.
	streams context.Context
	// requests counts requests to the catch-all endpoint, for --error-rate.
	requests atomic.Uint64
	// db is the database of --db-query (nil without it).
	db *sql.DB
}

// reply is the JSON body of the catch-all and /slow endpoints.
type reply struct {
	Version string `json:"version"`
	Port    int    `json:"port"`
	Path    string `json:"path"`
	Host    string `json:"host"`
	Method  string `json:"method"`
	// Bytes is the request body length (POST only).
	Bytes *int64 `json:"bytes,omitempty"`
	// SleptMS is how long /slow slept.
	SleptMS *int `json:"slept_ms,omitempty"`
	// Error names an injected failure.
	Error string `json:"error,omitempty"`
}

// handler returns the app's routes.
func (a *app) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", a.health)
	mux.HandleFunc("/sse", a.sse)
	mux.HandleFunc("/slow", a.slow)
	mux.HandleFunc("/text", a.text)
	mux.HandleFunc("/", a.root)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Version", a.opts.version)
		mux.ServeHTTP(w, r)
	})
}

// health answers 200 "ok", or 503 with --unhealthy.
func (a *app) health(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if a.opts.unhealthy {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "unhealthy")
		return
	}
	io.WriteString(w, "ok")
}

// root answers any other path with the version, after --latency, failing
// the fraction --error-rate of requests. POST bodies are read and counted.
func (a *app) root(w http.ResponseWriter, r *http.Request) {
	if !sleep(r.Context(), a.opts.latency) {
		return
	}
	rep := a.newReply(r)
	if r.Method == http.MethodPost {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, "reading body: "+err.Error(), http.StatusBadRequest)
			return
		}
		rep.Bytes = &n
	}
	if a.shouldFail() {
		rep.Error = "injected error (--error-rate)"
		writeJSON(w, http.StatusInternalServerError, rep)
		return
	}
	if a.db != nil {
		if err := a.query(r.Context()); err != nil {
			rep.Error = "db: " + err.Error()
			writeJSON(w, http.StatusInternalServerError, rep)
			return
		}
	}
	writeJSON(w, http.StatusOK, rep)
}

// slow sleeps for ?ms= milliseconds (default 1000), then answers.
func (a *app) slow(w http.ResponseWriter, r *http.Request) {
	ms := 1000
	if s := r.URL.Query().Get("ms"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			http.Error(w, fmt.Sprintf("ms=%q: want a non-negative number of milliseconds", s), http.StatusBadRequest)
			return
		}
		ms = n
	}
	if !sleep(r.Context(), time.Duration(ms)*time.Millisecond) {
		return
	}
	rep := a.newReply(r)
	rep.SleptMS = &ms
	writeJSON(w, http.StatusOK, rep)
}

// sse streams one server-sent event per ?interval= (default 1s) until the
// client leaves or the server shuts down.
func (a *app) sse(w http.ResponseWriter, r *http.Request) {
	interval := time.Second
	if s := r.URL.Query().Get("interval"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			http.Error(w, fmt.Sprintf("interval=%q: want a positive duration like 500ms", s), http.StatusBadRequest)
			return
		}
		interval = d
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for n := 1; ; n++ {
		if _, err := fmt.Fprintf(w, "id: %d\ndata: {\"version\":%q,\"n\":%d}\n\n", n, a.opts.version, n); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-a.streams.Done():
			return
		case <-tick.C:
		}
	}
}

// newReply fills the fields every reply carries.
func (a *app) newReply(r *http.Request) reply {
	return reply{Version: a.opts.version, Port: a.port, Path: r.URL.Path, Host: r.Host, Method: r.Method}
}

// shouldFail reports whether this request gets an injected error. Failures
// are spread evenly: request n fails when floor(n*rate) grows, so exactly
// the fraction rate of any long run fails; with --random-errors each request
// fails independently with probability rate.
func (a *app) shouldFail() bool {
	rate := a.opts.errorRate
	if rate <= 0 {
		return false
	}
	if a.opts.randomErrors {
		return rand.Float64() < rate
	}
	n := float64(a.requests.Add(1))
	return math.Floor(n*rate+1e-9) > math.Floor((n-1)*rate+1e-9)
}

// sleep waits d or until ctx ends, reporting whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
