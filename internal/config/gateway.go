package config

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
)

// HSTS is a Strict-Transport-Security policy.
type HSTS struct {
	// MaxAge is how long browsers keep to HTTPS (default 365 days, 8760h).
	MaxAge Duration `yaml:"max_age"`
	// IncludeSubdomains applies the policy to every subdomain.
	IncludeSubdomains bool `yaml:"include_subdomains"`
	// Preload asks to be in the browsers' preload lists (needs
	// include_subdomains and a max_age of a year or more).
	Preload bool `yaml:"preload"`
}

// DefaultHSTSMaxAge is the HSTS max-age unless set: a year.
const DefaultHSTSMaxAge = Duration(365 * 24 * time.Hour)

// Header returns the Strict-Transport-Security value.
func (h *HSTS) Header() string {
	v := fmt.Sprintf("max-age=%d", int64(h.MaxAge.D()/time.Second))
	if h.IncludeSubdomains {
		v += "; includeSubDomains"
	}
	if h.Preload {
		v += "; preload"
	}
	return v
}

// Redirect answers requests whose path is From with a redirect to To.
// From "/old/*" matches /old and everything below it; To "/new/*" then
// keeps the rest of the path. The query is kept unless To has one.
type Redirect struct {
	From   string `yaml:"from"`
	To     string `yaml:"to"`
	Status int    `yaml:"status"` // 301 (default), 302, 303, 307 or 308
}

// Headers changes the headers of requests to the instances and of
// responses to clients.
type Headers struct {
	Request  HeaderOps `yaml:"request"`
	Response HeaderOps `yaml:"response"`
}

// HeaderOps sets (replacing every value) and removes headers.
type HeaderOps struct {
	Set    map[string]string `yaml:"set"`
	Remove []string          `yaml:"remove"`
}

// framingHeaders may not be set or removed: they frame the message.
var framingHeaders = []string{"Content-Length", "Transfer-Encoding", "Connection", "Upgrade", "Te", "Trailer", "Host", "Keep-Alive", "Proxy-Connection"}

func (v *validator) gateway(s *Service, p string) {
	f := func(field string) string { return p + "." + field }
	if s.HTTPSRedirect && v.c.Listen.HTTPS == "" {
		v.add(f("https_redirect"), `set listen.https (e.g. ":443"), or remove https_redirect`, "redirects to HTTPS, but there is no HTTPS listener")
	}
	if h := s.HSTS; h != nil {
		if h.MaxAge < 0 {
			v.add(f("hsts.max_age"), "use a positive duration such as 8760h (a year), or 0s to clear the policy in browsers", "must not be negative, got %s", h.MaxAge)
		}
		if h.Preload && (!h.IncludeSubdomains || h.MaxAge < DefaultHSTSMaxAge) {
			v.add(f("hsts.preload"), "set include_subdomains: true and max_age: 8760h or more, as the preload lists require", "preload without include_subdomains and a year's max_age")
		}
	}
	if c := s.CanonicalHost; c != "" && !validHostName(c) {
		v.add(f("canonical_host"), "write the host name to redirect to, e.g. example.com", "%q is not a host name", c)
	}
	for i, rd := range s.Redirects {
		rp := fmt.Sprintf("%s.redirects[%d]", p, i)
		from, prefix := strings.CutSuffix(rd.From, "/*")
		switch {
		case !strings.HasPrefix(rd.From, "/"):
			v.add(rp+".from", `write a path starting with "/", e.g. /old or /old/*`, "%q is not a path", rd.From)
		case strings.Contains(from, "*"):
			v.add(rp+".from", `a "*" may only end the path, as "/*"`, "%q has a * inside", rd.From)
		}
		to, keep := strings.CutSuffix(rd.To, "/*")
		switch {
		case rd.To == "":
			v.add(rp+".to", "write a path (/new) or a URL (https://example.com/new)", "missing")
		case strings.Contains(to, "*"):
			v.add(rp+".to", `a "*" may only end the target, as "/*"`, "%q has a * inside", rd.To)
		case keep && !prefix:
			v.add(rp+".to", `end from with "/*" too, or remove the "/*" of to`, "%q keeps the rest of the path, but from %q matches one path", rd.To, rd.From)
		case !strings.HasPrefix(rd.To, "/"):
			if u, err := url.Parse(rd.To); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				v.add(rp+".to", "write a path (/new) or an http(s) URL (https://example.com/new)", "%q is neither", rd.To)
			}
		}
		switch rd.Status {
		case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		default:
			v.add(rp+".status", "use 301 or 308 (permanent), 302, 303 or 307 (temporary)", "%d is not a redirect status", rd.Status)
		}
	}
	v.headerOps(f("headers.request"), &s.Headers.Request)
	v.headerOps(f("headers.response"), &s.Headers.Response)
}

func (v *validator) headerOps(p string, o *HeaderOps) {
	check := func(path, name string) bool {
		if !httpguts.ValidHeaderFieldName(name) {
			v.add(path, "use letters, digits and '-'", "%q is not a header name", name)
			return false
		}
		for _, fh := range framingHeaders {
			if strings.EqualFold(name, fh) {
				v.add(path, "remove it: cutover sets it to frame the message", "%s cannot be changed", fh)
				return false
			}
		}
		return true
	}
	for _, name := range sortedKeys(o.Set) {
		path := p + ".set." + name
		if check(path, name) && !httpguts.ValidHeaderFieldValue(o.Set[name]) {
			v.add(path, "remove control characters (line breaks) from the value", "invalid header value")
		}
	}
	for i, name := range o.Remove {
		check(fmt.Sprintf("%s.remove[%d]", p, i), name)
	}
}
