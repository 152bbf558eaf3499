package proxy

import (
	"net"
	"net/http"
	"strconv"
	"strings"
)

// Gateway holds what a service answers or changes at the edge, before and
// after its instances: the nginx `return 301` and `add_header` lines users
// copy. A nil *Gateway costs nothing.
type Gateway struct {
	// HTTPSRedirect answers a plain-HTTP request with 308 to the same URL
	// on https (a request a trusted proxy marked X-Forwarded-Proto: https
	// counts as secure).
	HTTPSRedirect bool
	// HSTS is the Strict-Transport-Security value added to responses sent
	// over HTTPS ("": none).
	HSTS string
	// CanonicalHost answers a request for any other host name with 301 to
	// the same URL on this one (e.g. www.example.com → example.com).
	CanonicalHost string
	// Redirects are tried in order on the request path (before
	// StripPrefix).
	Redirects []Redirect
	// Request and Response change the headers sent to the instance and to
	// the client.
	Request, Response HeaderOps
}

// Redirect answers requests for From with Status and Location To. From
// ending in "/*" matches the prefix before the star, and a To ending in
// "/*" gets the rest of the path in place of the star; otherwise From
// matches the path exactly. The query is kept unless To has its own.
type Redirect struct {
	From   string
	To     string
	Status int
}

// HeaderOps sets and removes headers. Set replaces every value of a name.
type HeaderOps struct {
	Set    http.Header
	Remove []string
}

func (o *HeaderOps) apply(h http.Header) {
	for _, k := range o.Remove {
		delete(h, k)
	}
	for k, v := range o.Set {
		h[k] = v
	}
}

// empty reports whether o changes nothing.
func (o *HeaderOps) empty() bool { return len(o.Set) == 0 && len(o.Remove) == 0 }

// secure reports whether r reached the client's side over TLS: on this
// listener, or on a trusted proxy that says so.
func (p *Proxy) secure(r *http.Request) bool {
	if isTLS(r) {
		return true
	}
	proto := r.Header.Get("X-Forwarded-Proto")
	return proto != "" && strings.EqualFold(proto, "https") && p.isTrusted(clientHost(r.RemoteAddr))
}

// edge answers r itself when the gateway redirects it, and reports
// whether it did; otherwise it applies the request header changes.
func (p *Proxy) edge(w http.ResponseWriter, r *http.Request, ex *exchange, g *Gateway) bool {
	secure := p.secure(r)
	host := hostOnly(r.Host)
	scheme := "http"
	if secure {
		scheme = "https"
	}
	_, port, _ := net.SplitHostPort(r.Host)
	if g.HTTPSRedirect && !secure {
		scheme, port = "https", ""
		if hp := p.httpsPort.Load(); hp != 0 && hp != 443 {
			port = strconv.Itoa(int(hp))
		}
		redirect(w, r, ex, http.StatusPermanentRedirect, origin(scheme, host, port)+r.URL.RequestURI())
		return true
	}
	if g.CanonicalHost != "" && !strings.EqualFold(host, g.CanonicalHost) {
		redirect(w, r, ex, http.StatusMovedPermanently, origin(scheme, g.CanonicalHost, port)+r.URL.RequestURI())
		return true
	}
	for i := range g.Redirects {
		rd := &g.Redirects[i]
		if to, ok := rd.target(ex.path); ok {
			if !strings.Contains(to, "?") && r.URL.RawQuery != "" {
				to += "?" + r.URL.RawQuery
			}
			redirect(w, r, ex, rd.Status, to)
			return true
		}
	}
	if !g.Request.empty() {
		g.Request.apply(r.Header)
	}
	return false
}

// target returns where path is redirected, if rd matches it.
func (rd *Redirect) target(path string) (string, bool) {
	from, ok := strings.CutSuffix(rd.From, "/*")
	if !ok {
		return rd.To, path == rd.From
	}
	rest, ok := strings.CutPrefix(path, from)
	if !ok || (rest != "" && rest[0] != '/') {
		return "", false
	}
	if to, ok := strings.CutSuffix(rd.To, "/*"); ok {
		if rest == "" {
			rest = "/"
		}
		return to + rest, true
	}
	return rd.To, true
}

func origin(scheme, host, port string) string {
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" && !(scheme == "http" && port == "80") && !(scheme == "https" && port == "443") {
		host += ":" + port
	}
	return scheme + "://" + host
}

func redirect(w http.ResponseWriter, r *http.Request, ex *exchange, status int, to string) {
	ex.status = status
	w.Header()["Location"] = []string{to}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		w.Header()["Content-Type"] = []string{"text/plain; charset=utf-8"}
	}
	w.WriteHeader(status)
}

// respondHeaders applies the gateway's response changes to h.
func (p *Proxy) respondHeaders(h http.Header, r *http.Request, g *Gateway) {
	if !g.Response.empty() {
		g.Response.apply(h)
	}
	if g.HSTS != "" && p.secure(r) {
		h["Strict-Transport-Security"] = []string{g.HSTS}
	}
}
