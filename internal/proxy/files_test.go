package proxy

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFiles(t *testing.T) {
	base := t.TempDir()
	v1, v2 := filepath.Join(base, "v1"), filepath.Join(base, "v2")
	writeFiles(t, v1, map[string]string{"index.html": "v1 index", "app.1111.js": "v1 js", "only-v1.css": "old css"})
	writeFiles(t, v2, map[string]string{
		"index.html": "v2 index", "app.2222.js": "v2 js", "app.2222.js.br": "BR", "app.2222.js.gz": "GZ",
		".env": "SECRET", "sub/index.html": "sub index", "sub/page.html": "page", ".git/config": "x",
	})
	writeFiles(t, base, map[string]string{"outside.txt": "OUTSIDE"})
	if err := os.Symlink(filepath.Join(base, "outside.txt"), filepath.Join(v2, "escape.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("app.2222.js", filepath.Join(v2, "inside.js")); err != nil {
		t.Fatal(err)
	}
	be := httptestEcho(t)
	p := newTestProxy(t, Options{})
	spec := oneSet("web", "v2", TargetSpec{ID: "e", Addr: addrOf(be)})
	spec.Files = []FileRoute{{
		Prefix: "/", Roots: map[string]string{"v1": v1, "v2": v2}, Fallback: []string{v1}, Index: "index.html",
		Cache: []CacheRule{{Match: "*.js", Value: "public, max-age=31536000, immutable"}, {Match: "*.html", Value: "no-cache"}},
	}}
	if err := p.Apply([]ServiceSpec{spec}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, method, target string
		hdr                  http.Header
		status               int
		body                 string
		check                func(t *testing.T, h http.Header)
	}{
		{"index", "GET", "/", nil, 200, "v2 index", func(t *testing.T, h http.Header) {
			if h.Get("Content-Type") != "text/html; charset=utf-8" || h.Get("Cache-Control") != "no-cache" {
				t.Errorf("headers %v", h)
			}
		}},
		{"file of the live version", "GET", "/app.2222.js", nil, 200, "v2 js", func(t *testing.T, h http.Header) {
			if h.Get("Cache-Control") != "public, max-age=31536000, immutable" || h.Get("Etag") == "" || h.Get("Last-Modified") == "" {
				t.Errorf("headers %v", h)
			}
		}},
		{"brotli sibling", "GET", "/app.2222.js", http.Header{"Accept-Encoding": {"gzip, br"}}, 200, "BR", func(t *testing.T, h http.Header) {
			if h.Get("Content-Encoding") != "br" || h.Get("Vary") != "Accept-Encoding" || !strings.Contains(h.Get("Content-Type"), "javascript") {
				t.Errorf("headers %v", h)
			}
		}},
		{"gzip sibling when br is refused", "GET", "/app.2222.js", http.Header{"Accept-Encoding": {"br;q=0, gzip"}}, 200, "GZ", nil},
		{"no sibling for a range", "GET", "/app.2222.js", http.Header{"Accept-Encoding": {"br"}, "Range": {"bytes=0-1"}}, 206, "v2", nil},
		{"previous version's file", "GET", "/only-v1.css", nil, 200, "old css", nil},
		{"directory index", "GET", "/sub/", nil, 200, "sub index", nil},
		{"directory without its slash", "GET", "/sub?x=1", nil, 301, "", func(t *testing.T, h http.Header) {
			if h.Get("Location") != "/sub/?x=1" {
				t.Errorf("Location %q", h.Get("Location"))
			}
		}},
		{"dotfile", "GET", "/.env", nil, 404, "", nil},
		{"dot directory", "GET", "/.git/config", nil, 404, "", nil},
		{"symlink out of the root", "GET", "/escape.txt", nil, 404, "", nil},
		{"symlink inside the root", "GET", "/inside.js", nil, 200, "v2 js", nil},
		{"missing", "GET", "/nope.js", nil, 404, "", nil},
		{"not modified", "GET", "/app.2222.js", nil, 200, "v2 js", nil},
		{"POST", "POST", "/app.2222.js", nil, 405, "", func(t *testing.T, h http.Header) {
			if h.Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow %q", h.Get("Allow"))
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := serve(p, tc.method, tc.target, tc.hdr)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d; body %q", w.Code, tc.status, w.Body.String())
			}
			if tc.body != "" && w.Body.String() != tc.body {
				t.Fatalf("body %q, want %q", w.Body.String(), tc.body)
			}
			if strings.Contains(w.Body.String(), "SECRET") || strings.Contains(w.Body.String(), "OUTSIDE") {
				t.Fatalf("leaked: %q", w.Body.String())
			}
			if tc.check != nil {
				tc.check(t, w.Header())
			}
		})
	}
	// A conditional request with the ETag gets 304.
	etag := serve(p, "GET", "/app.2222.js", nil).Header().Get("Etag")
	if w := serve(p, "GET", "/app.2222.js", http.Header{"If-None-Match": {etag}}); w.Code != 304 {
		t.Fatalf("If-None-Match with the ETag: %d, want 304", w.Code)
	}
}

func TestFilesSPAAndPrefix(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"index.html": "app shell", "main.js": "js"})
	be := httptestEcho(t)
	p := newTestProxy(t, Options{})
	spec := oneSet("web", "v1", TargetSpec{ID: "e", Addr: addrOf(be)})
	spec.Files = []FileRoute{{Prefix: "/app/", Roots: map[string]string{"v1": dir}, Index: "index.html", SPA: true}}
	if err := p.Apply([]ServiceSpec{spec}); err != nil {
		t.Fatal(err)
	}
	if w := serve(p, "GET", "/app/orders/42", nil); w.Code != 200 || w.Body.String() != "app shell" {
		t.Fatalf("client-side route: %d %q, want the index", w.Code, w.Body.String())
	}
	if w := serve(p, "GET", "/app/main.js", nil); w.Body.String() != "js" {
		t.Fatalf("a file of the app: %q", w.Body.String())
	}
	if w := serve(p, "GET", "/app", nil); w.Code != 301 || w.Header().Get("Location") != "/app/" {
		t.Fatalf("the prefix without its slash: %d %q", w.Code, w.Header().Get("Location"))
	}
	if w := serve(p, "GET", "/api/x", nil); w.Code != 200 || w.Body.String() != "/api/x" {
		t.Fatalf("a path outside the files goes to the instances: %d %q", w.Code, w.Body.String())
	}
}

// BenchmarkFiles serves a 10 KB file through the proxy's handler (no
// network): the cost of routing, opening in the root and the headers.
func BenchmarkFiles(b *testing.B) {
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "10k.bin"), make([]byte, 10240), 0o644); err != nil {
		b.Fatal(err)
	}
	p := newTestProxy(b, Options{})
	spec := oneSet("web", "v1", TargetSpec{ID: "e", Addr: "127.0.0.1:1"})
	spec.Files = []FileRoute{{Prefix: "/assets/", Roots: map[string]string{"v1": dir}, Index: "index.html"}}
	if err := p.Apply([]ServiceSpec{spec}); err != nil {
		b.Fatal(err)
	}
	r, _ := http.NewRequest("GET", "http://example.com/assets/10k.bin", nil)
	r.RequestURI = "/assets/10k.bin"
	r.RemoteAddr = "192.0.2.1:1"
	w := &fileSink{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		clear(w.h)
		p.ServeHTTP(w, r)
		if w.code != 200 {
			b.Fatalf("status %d", w.code)
		}
	}
}

type fileSink struct {
	h    http.Header
	code int
}

func (w *fileSink) Header() http.Header         { return w.h }
func (w *fileSink) WriteHeader(code int)        { w.code = code }
func (w *fileSink) Write(b []byte) (int, error) { return len(b), nil }
