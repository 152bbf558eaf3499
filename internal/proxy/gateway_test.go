package proxy

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestGateway(t *testing.T) {
	be := httptestEcho(t)
	p := newTestProxy(t, Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}})
	spec := oneSet("web", "v1", TargetSpec{ID: "e", Addr: addrOf(be)})
	spec.Gateway = &Gateway{
		HTTPSRedirect: true,
		HSTS:          "max-age=31536000",
		CanonicalHost: "example.com",
		Redirects: []Redirect{
			{From: "/old/*", To: "/new/*", Status: 301},
			{From: "/blog", To: "https://blog.example.com/?from=shop", Status: 308},
		},
		Request:  HeaderOps{Set: http.Header{"X-Env": {"prod"}}, Remove: []string{"X-Debug"}},
		Response: HeaderOps{Set: http.Header{"X-Frame-Options": {"DENY"}}, Remove: []string{"Echo-User-Agent"}},
	}
	if err := p.Apply([]ServiceSpec{spec}); err != nil {
		t.Fatal(err)
	}
	p.SetHTTPSPort(8443)
	tlsState := &tls.ConnectionState{}
	for _, tc := range []struct {
		name, target, remote, proto string
		secure                      bool
		status                      int
		location                    string
	}{
		{"plain to https", "http://example.com/a/b?q=1", "203.0.113.9:5000", "", false, 308, "https://example.com:8443/a/b?q=1"},
		{"forwarded https from a trusted proxy", "http://example.com/x", "192.0.2.5:5000", "https", false, 200, ""},
		{"forwarded https from anyone else", "http://example.com/x", "203.0.113.9:5000", "https", false, 308, "https://example.com:8443/x"},
		{"canonical host", "https://www.example.com/x?y", "203.0.113.9:5000", "", true, 301, "https://example.com/x?y"},
		{"prefix redirect keeps the rest and the query", "https://example.com/old/a/b?z=2", "203.0.113.9:5000", "", true, 301, "/new/a/b?z=2"},
		{"prefix redirect of the prefix itself", "https://example.com/old", "203.0.113.9:5000", "", true, 301, "/new/"},
		{"a longer name is not under the prefix", "https://example.com/older", "203.0.113.9:5000", "", true, 200, ""},
		{"exact redirect with its own query", "https://example.com/blog?x=1", "203.0.113.9:5000", "", true, 308, "https://blog.example.com/?from=shop"},
		{"exact redirect is exact", "https://example.com/blog/post", "203.0.113.9:5000", "", true, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := http.Header{"X-Debug": {"1"}, "User-Agent": {"t"}}
			if tc.proto != "" {
				hdr.Set("X-Forwarded-Proto", tc.proto)
			}
			r := serveWith(p, "GET", tc.target, hdr, tc.remote, tc.secure, tlsState)
			if r.Code != tc.status || r.Header().Get("Location") != tc.location {
				t.Fatalf("status %d Location %q, want %d %q", r.Code, r.Header().Get("Location"), tc.status, tc.location)
			}
			if tc.status != 200 {
				return
			}
			h := r.Header()
			if h.Get("Echo-X-Env") != "prod" || h.Get("Echo-X-Debug") != "" {
				t.Errorf("request headers: X-Env %q, X-Debug %q; want set and removed", h.Get("Echo-X-Env"), h.Get("Echo-X-Debug"))
			}
			if h.Get("X-Frame-Options") != "DENY" || h.Get("Echo-User-Agent") != "" {
				t.Errorf("response headers: X-Frame-Options %q, Echo-User-Agent %q; want set and removed", h.Get("X-Frame-Options"), h.Get("Echo-User-Agent"))
			}
			if got := h.Get("Strict-Transport-Security"); got != "max-age=31536000" {
				t.Errorf("Strict-Transport-Security %q on a secure request", got)
			}
		})
	}
}

func TestGatewayHSTSOnlyOverHTTPS(t *testing.T) {
	be := httptestEcho(t)
	p := newTestProxy(t, Options{})
	spec := oneSet("web", "v1", TargetSpec{ID: "e", Addr: addrOf(be)})
	spec.Gateway = &Gateway{HSTS: "max-age=60"}
	if err := p.Apply([]ServiceSpec{spec}); err != nil {
		t.Fatal(err)
	}
	if r := serveWith(p, "GET", "http://example.com/", nil, "203.0.113.9:1", false, nil); r.Code != 200 || r.Header().Get("Strict-Transport-Security") != "" {
		t.Fatalf("plain HTTP: status %d, HSTS %q; want 200 without HSTS (RFC 6797 7.2)", r.Code, r.Header().Get("Strict-Transport-Security"))
	}
}

// serveWith is serve with a client address, over TLS when secure.
func serveWith(h http.Handler, method, target string, hdr http.Header, remote string, secure bool, st *tls.ConnectionState) *httptest.ResponseRecorder {
	r, _ := http.NewRequest(method, target, nil)
	r.RequestURI = r.URL.RequestURI()
	r.RemoteAddr = remote
	for k, vv := range hdr {
		r.Header[k] = vv
	}
	if secure {
		r.TLS = st
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}
