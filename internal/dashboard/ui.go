package dashboard

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"path"
	"time"
)

//go:embed assets
var assets embed.FS

// contentSecurityPolicy lets the page load only its own files and talk
// only to its own origin, and forbids framing it (no clickjacking of the
// action buttons). Style attributes are allowed: the page sets colours
// and widths with them; no script runs but app.js.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Options configures New.
type Options struct {
	// Recorder serves GET /v1/traffic (nil: the endpoint answers 404).
	Recorder *Recorder
	// Sessions holds logins (default NewSessions with its defaults).
	Sessions *Sessions
}

// UI is the dashboard's HTTP side: the page, the login and the traffic
// stream. It is safe for concurrent use.
type UI struct {
	opts   Options
	static http.Handler
}

// New returns the dashboard.
func New(opts Options) *UI {
	if opts.Sessions == nil {
		opts.Sessions = NewSessions(SessionOptions{})
	}
	sub, _ := fs.Sub(assets, "assets") // the directory is embedded: cannot fail
	return &UI{opts: opts, static: http.FileServerFS(sub)}
}

// Sessions returns the dashboard's session store.
func (u *UI) Sessions() *Sessions { return u.opts.Sessions }

// Recorder returns the traffic recorder (nil when there is none).
func (u *UI) Recorder() *Recorder { return u.opts.Recorder }

// ServePage serves the page and its files under /ui/.
func (u *UI) ServePage(w http.ResponseWriter, r *http.Request) {
	name := path.Clean("/" + r.PathValue("file"))
	if name == "/" {
		name = "/index.html"
	}
	if name == "/report.html" {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
	r2 := r.Clone(r.Context())
	r2.URL.Path = name
	if name == "/index.html" {
		// FileServer redirects /index.html to ./; serve the file itself.
		b, err := assets.ReadFile("assets/index.html")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		h.Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(b)
		return
	}
	u.static.ServeHTTP(w, r2)
}

// ServeSession serves GET /ui/session: the CSRF token of the browser's
// session, which the page sends with every action. A request that came
// without a session (the unix socket itself) gets an empty token.
func (u *UI) ServeSession(w http.ResponseWriter, r *http.Request) {
	csrf, exp, _ := u.opts.Sessions.Info(r)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	out := map[string]any{"csrf": csrf}
	if !exp.IsZero() {
		out["expires"] = exp.UTC().Format(time.RFC3339)
	}
	_ = json.NewEncoder(w).Encode(out)
}

// ServeTraffic serves GET /v1/traffic (see Recorder.ServeHTTP).
func (u *UI) ServeTraffic(w http.ResponseWriter, r *http.Request) {
	if u.opts.Recorder == nil {
		writeJSONError(w, http.StatusNotFound, "not_found", "traffic metrics are not recorded by this server")
		return
	}
	u.opts.Recorder.ServeHTTP(w, r)
}
