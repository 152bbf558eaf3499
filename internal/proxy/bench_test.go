package proxy

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

var benchBody = strings.Repeat("x", 100)

func benchBackend(b *testing.B) *httptest.Server {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, benchBody)
	}))
	b.Cleanup(ts.Close)
	return ts
}

func benchProxy(b *testing.B) *Proxy {
	be := benchBackend(b)
	p, err := New(Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	if err := p.Apply([]ServiceSpec{oneSet("web", "v1", TargetSpec{ID: "b", Addr: addrOf(be)})}); err != nil {
		b.Fatal(err)
	}
	return p
}

// discardWriter is a minimal http.ResponseWriter for measuring the
// handler alone.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }

// BenchmarkProxy measures forwarding 100-byte responses: "handler" calls
// ServeHTTP directly (the proxy's own cost and allocations plus the upstream
// round trip), "sockets" goes through the proxy's listener with keep-alive
// clients in parallel.
func BenchmarkProxy(b *testing.B) {
	b.Run("handler", func(b *testing.B) {
		p := benchProxy(b)
		r := httptest.NewRequest("GET", "http://bench.test/hello", nil)
		r.RemoteAddr = "127.0.0.1:40000"
		w := &discardWriter{h: make(http.Header)}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			clear(w.h)
			p.ServeHTTP(w, r)
			if w.status != 200 {
				b.Fatalf("status %d", w.status)
			}
		}
	})
	b.Run("sockets", func(b *testing.B) {
		p := benchProxy(b)
		_, base := startServer(b, p, ServerOptions{})
		tr := &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr}
		b.ReportAllocs()
		b.SetParallelism(16)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				resp, err := client.Get(base + "/hello")
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		})
	})
}
