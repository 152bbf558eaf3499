package proxy

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// countWriter is a ResponseWriter that counts the body bytes written.
type countWriter struct {
	h http.Header
	n int
}

func (w *countWriter) Header() http.Header         { return w.h }
func (w *countWriter) WriteHeader(int)             {}
func (w *countWriter) Write(b []byte) (int, error) { w.n += len(b); return len(b), nil }

// benchJSON returns n bytes of an API-like JSON array: records with ids,
// names drawn from a vocabulary, numbers and timestamps, less repetitive
// than compressBody.
func benchJSON(n int) []byte {
	words := strings.Fields("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike " +
		"november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu order invoice " +
		"customer shipped pending refunded warehouse berlin paris lisbon oslo")
	rng := rand.New(rand.NewPCG(1, 2))
	var b bytes.Buffer
	b.WriteByte('[')
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, `{"id":%d,"sku":"%s-%04d","name":"%s %s","qty":%d,"price":%.2f,"status":"%s","at":"2026-%02d-%02dT%02d:%02d:%02dZ"},`,
			rng.IntN(1_000_000), words[rng.IntN(len(words))], rng.IntN(10000), words[rng.IntN(len(words))],
			words[rng.IntN(len(words))], rng.IntN(50), rng.Float64()*500, words[rng.IntN(len(words))],
			1+rng.IntN(12), 1+rng.IntN(28), rng.IntN(24), rng.IntN(60), rng.IntN(60))
	}
	return b.Bytes()[:n]
}

// BenchmarkCompress measures the response writer with each coding on a
// 64 KiB JSON body written in 16 KiB pieces (as the proxy copies): MB/s
// of uncompressed input, allocations per response, and the compressed
// size as a percentage of the input.
func BenchmarkCompress(b *testing.B) {
	body := benchJSON(64 << 10)
	c := Compression{}.withDefaults()
	for _, enc := range []string{"identity", "gzip", "br", "zstd"} {
		b.Run(enc, func(b *testing.B) {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Accept-Encoding", enc)
			w := &countWriter{h: make(http.Header)}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				w.n = 0
				w.h["Content-Type"] = []string{"application/json"}
				w.h["Content-Length"] = []string{strconv.Itoa(len(body))}
				cw := c.wrap(w, r)
				for p := body; len(p) > 0; {
					n := min(len(p), copyBufferSize)
					_, _ = cw.Write(p[:n])
					p = p[n:]
				}
				cw.finish()
			}
			b.ReportMetric(100*float64(w.n)/float64(len(body)), "%size")
		})
	}
}

// BenchmarkCompressLevels compares levels of each coding on the same body,
// with a reused encoder, to choose the ones the proxy uses.
func BenchmarkCompressLevels(b *testing.B) {
	body := benchJSON(64 << 10)
	type enc interface {
		io.Writer
		Close() error
		Reset(io.Writer)
	}
	for _, tc := range []struct {
		name string
		new  func() enc
	}{
		{"gzip-1", func() enc { w, _ := gzip.NewWriterLevel(io.Discard, 1); return w }},
		{"gzip-5", func() enc { w, _ := gzip.NewWriterLevel(io.Discard, 5); return w }},
		{"gzip-6", func() enc { w, _ := gzip.NewWriterLevel(io.Discard, 6); return w }},
		{"br-2", func() enc {
			return brotli.NewWriterOptions(io.Discard, brotli.WriterOptions{Quality: 2, LGWin: brotliWindow})
		}},
		{"br-4", func() enc {
			return brotli.NewWriterOptions(io.Discard, brotli.WriterOptions{Quality: 4, LGWin: brotliWindow})
		}},
		{"br-5", func() enc {
			return brotli.NewWriterOptions(io.Discard, brotli.WriterOptions{Quality: 5, LGWin: brotliWindow})
		}},
		{"zstd-fastest", func() enc {
			w, _ := zstd.NewWriter(io.Discard, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(zstdWindow), zstd.WithLowerEncoderMem(true))
			return w
		}},
		{"zstd-default", func() enc {
			w, _ := zstd.NewWriter(io.Discard, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(zstdWindow), zstd.WithLowerEncoderMem(true))
			return w
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			e := tc.new()
			var out bytes.Buffer
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				out.Reset()
				e.Reset(&out)
				_, _ = e.Write(body)
				_ = e.Close()
			}
			b.ReportMetric(100*float64(out.Len())/float64(len(body)), "%size")
		})
	}
}
