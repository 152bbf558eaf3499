package proxy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/coder/websocket"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

func TestCompressNegotiate(t *testing.T) {
	def := Compression{}.withDefaults()
	gzipFirst := Compression{Encodings: []string{"gzip", "br"}}.withDefaults()
	for _, tc := range []struct {
		c    *Compression
		ae   string
		want string // "" identity
	}{
		{&def, "", ""},
		{&def, "gzip", "gzip"},
		{&def, "GZIP", "gzip"},
		{&def, "x-gzip", "gzip"},
		{&def, "gzip, deflate, br, zstd", "zstd"},
		{&def, "gzip, deflate, br;q=0.9, zstd;q=0.95", "gzip"},
		{&def, "zstd;q=0.5, gzip;q=0.4", "zstd"},
		{&def, "br;q=0, gzip", "gzip"},
		{&def, "br;q=0, gzip;q=0, zstd;q=0", ""},
		{&def, "*", "zstd"},
		{&def, "*;q=0.1, gzip;q=0.5", "gzip"},
		{&def, "zstd;q=0, *", "br"},
		{&def, "gzip, br", "br"},
		{&def, "*;q=0", ""},
		{&def, "identity;q=0", ""},
		{&def, "identity;q=0, gzip", "gzip"},
		{&def, "deflate, compress", ""},
		{&def, "gzip;q=bogus, zstd", "zstd"},
		{&def, "gzip;q=1.5", "gzip"},
		{&def, " gzip ; q=0.2 ,br;q=0.1", "gzip"},
		{&gzipFirst, "gzip, br, zstd", "gzip"},
		{&gzipFirst, "zstd", ""},
		{&gzipFirst, "br;q=1, gzip;q=0.999", "br"},
	} {
		var vals []string
		if tc.ae != "" {
			vals = []string{tc.ae}
		}
		got := ""
		if cd := tc.c.negotiate(vals); cd != nil {
			got = cd.name
		}
		if got != tc.want {
			t.Errorf("Accept-Encoding %q with %v: %q, want %q", tc.ae, tc.c.Encodings, got, tc.want)
		}
	}
	// Several header lines count as one list.
	if cd := def.negotiate([]string{"gzip;q=0.5", "zstd"}); cd == nil || cd.name != "zstd" {
		t.Errorf("two Accept-Encoding lines: %v", cd)
	}
}

func TestCompressTypes(t *testing.T) {
	def := Compression{}.withDefaults()
	for ct, want := range map[string]bool{
		"text/html":                     true,
		"text/html; charset=utf-8":      true,
		"TEXT/CSS":                      true,
		"application/json":              true,
		"application/problem+json":      true,
		"application/javascript":        true,
		"application/rss+xml":           true,
		"image/svg+xml":                 true,
		"application/wasm":              true,
		"text/event-stream":             true,
		"image/png":                     false,
		"application/octet-stream":      false,
		"application/zip":               false,
		"font/woff2":                    false,
		"application/json-seq-not-json": false,
		"json":                          false,
		"":                              false,
	} {
		if got := def.compressible(ct); got != want {
			t.Errorf("compressible(%q) = %v, want %v", ct, got, want)
		}
	}
	own := Compression{ContentTypes: []string{"application/x-custom", "image/*"}}.withDefaults()
	if !own.compressible("image/png") || !own.compressible("application/x-custom") || own.compressible("text/html") {
		t.Error("an own list replaces the default one")
	}
}

func TestCompressValidate(t *testing.T) {
	for _, tc := range []struct {
		c    Compression
		want string
	}{
		{Compression{Encodings: []string{"deflate"}}, `unknown encoding "deflate"`},
		{Compression{Encodings: []string{"gzip", "GZIP"}}, "listed twice"},
		{Compression{MinSize: -1}, "min size"},
		{Compression{MinSize: MaxCompressMinSize + 1}, "min size"},
		{Compression{ContentTypes: []string{"text"}}, `content type "text"`},
		{Compression{ContentTypes: []string{"*/json"}}, `content type "*/json"`},
		{Compression{ContentTypes: []string{"text/ht*ml"}}, `content type "text/ht*ml"`},
	} {
		c := tc.c.withDefaults()
		err := c.validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.c, err, tc.want)
		}
	}
	spec := oneSet("web", "v1")
	spec.Compression = &Compression{Encodings: []string{"lz4"}}
	p := newTestProxy(t, Options{})
	if err := p.Apply([]ServiceSpec{spec}); err == nil || !strings.Contains(err.Error(), `service "web": compression: unknown encoding "lz4"`) {
		t.Errorf("Apply: %v", err)
	}
}

// compressBody is the text served by compressBackend: it compresses well
// but not trivially.
func compressBody(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, `{"id":%d,"name":"item %d","tags":["a","b%d"]}`+"\n", i, i*7, i%13)
	}
	return b.Bytes()[:n]
}

// compressBackend answers /body with ?size bytes of compressBody as ?type,
// framed by Content-Length unless ?chunked, and with the status, ETag,
// Content-Encoding and Cache-Control given in the query.
func compressBackend(t testing.TB) string {
	t.Helper()
	be := httptestHandler(t, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		size, _ := strconv.Atoi(q.Get("size"))
		body := compressBody(size)
		h := w.Header()
		if ct := q.Get("type"); ct == "none" {
			h["Content-Type"] = nil // no sniffing
		} else {
			if ct == "" {
				ct = "application/json"
			}
			h.Set("Content-Type", ct)
		}
		for _, k := range []string{"ETag", "Content-Encoding", "Cache-Control", "Vary"} {
			if v := q.Get(strings.ToLower(k)); v != "" {
				h.Set(k, v)
			}
		}
		h.Set("Accept-Ranges", "bytes")
		status := http.StatusOK
		if s := q.Get("status"); s != "" {
			status, _ = strconv.Atoi(s)
		}
		if q.Get("chunked") == "" && status != http.StatusNoContent && status != http.StatusNotModified {
			h.Set("Content-Length", strconv.Itoa(len(body)))
		}
		if q.Get("trailer") != "" {
			h.Set("Trailer", "X-Sum")
		}
		w.WriteHeader(status)
		if status == http.StatusNoContent || status == http.StatusNotModified || r.Method == http.MethodHead {
			return
		}
		for len(body) > 0 {
			n := min(len(body), 4000)
			_, _ = w.Write(body[:n])
			body = body[n:]
			if q.Get("chunked") != "" {
				w.(http.Flusher).Flush()
			}
		}
		if q.Get("trailer") != "" {
			h.Set("X-Sum", "ok")
		}
	})
	return be
}

// httptestHandler serves f on a loopback server and returns its address.
func httptestHandler(t testing.TB, f http.HandlerFunc) string {
	t.Helper()
	ts := httptest.NewServer(f)
	t.Cleanup(ts.Close)
	return addrOf(ts)
}

// compressProxy serves a proxy whose one service, over backend addr,
// compresses with c, and returns its base URL.
func compressProxy(t testing.TB, addr string, c *Compression) string {
	t.Helper()
	p := newTestProxy(t, Options{})
	spec := oneSet("web", "v1", TargetSpec{ID: "b", Addr: addr})
	spec.Compression = c
	if err := p.Apply([]ServiceSpec{spec}); err != nil {
		t.Fatal(err)
	}
	_, base := startServer(t, p, ServerOptions{})
	return base
}

// decode returns body decoded by the content coding enc.
func decode(t testing.TB, enc string, body io.Reader) []byte {
	t.Helper()
	var r io.Reader
	switch enc {
	case "":
		r = body
	case "gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		r = zr
	case "br":
		r = brotli.NewReader(body)
	case "zstd":
		zr, err := zstd.NewReader(body)
		if err != nil {
			t.Fatalf("zstd: %v", err)
		}
		defer zr.Close()
		r = zr
	default:
		t.Fatalf("unknown coding %q", enc)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decoding %s: %v", enc, err)
	}
	return b
}

// fetch sends method target with Accept-Encoding ae (and Range when rng is
// set) on a transport that never decodes nor retries.
func fetch(t testing.TB, client *http.Client, method, target, ae, rng string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, target, nil)
	if ae != "" {
		req.Header.Set("Accept-Encoding", ae)
	}
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, target, err)
	}
	return resp, b
}

func noDecodeClient() *http.Client {
	c := newClient(true)
	c.Transport.(*http.Transport).DisableCompression = true
	return c
}

func TestCompressResponses(t *testing.T) {
	// A held flush waits for the end of a short chunked body however busy
	// the machine is.
	base := compressProxy(t, compressBackend(t), &Compression{hold: time.Minute})
	client := noDecodeClient()
	for _, tc := range []struct {
		name, query, method, ae, rng string
		enc                          string // expected Content-Encoding
		vary                         bool
		status                       int
	}{
		{"gzip", "size=5000", "GET", "gzip", "", "gzip", true, 200},
		{"brotli", "size=5000", "GET", "br", "", "br", true, 200},
		{"zstd", "size=5000", "GET", "zstd", "", "zstd", true, 200},
		{"preference for equal weights", "size=5000", "GET", "gzip, deflate, br, zstd", "", "zstd", true, 200},
		{"weights", "size=5000", "GET", "br;q=0.5, gzip", "", "gzip", true, 200},
		{"chunked", "size=50000&chunked=1", "GET", "zstd", "", "zstd", true, 200},
		{"chunked with trailer", "size=50000&chunked=1&trailer=1", "GET", "gzip", "", "gzip", true, 200},
		{"error status with a body", "size=5000&status=404", "GET", "gzip", "", "gzip", true, 404},
		{"html with charset", "size=5000&type=text/html;+charset=utf-8", "GET", "br", "", "br", true, 200},
		{"no accepted coding: Vary all the same", "size=5000", "GET", "", "", "", true, 200},
		{"refused codings", "size=5000", "GET", "gzip;q=0, br;q=0, zstd;q=0", "", "", true, 200},
		{"identity;q=0 alone", "size=5000", "GET", "identity;q=0", "", "", true, 200},
		{"below min size", "size=1000", "GET", "gzip", "", "", false, 200},
		{"chunked below min size", "size=1000&chunked=1", "GET", "gzip", "", "", true, 200},
		{"already encoded", "size=5000&content-encoding=gzip", "GET", "br", "", "gzip", false, 200},
		{"not a listed type", "size=5000&type=image/png", "GET", "gzip", "", "", false, 200},
		{"no content type", "size=5000&type=none", "GET", "gzip", "", "", false, 200},
		{"no-transform", "size=5000&cache-control=public,+no-transform", "GET", "gzip", "", "", false, 200},
		{"range request", "size=5000", "GET", "gzip", "bytes=0-99", "", false, 200},
		{"partial content", "size=5000&status=206", "GET", "gzip", "", "", false, 206},
		{"no content", "status=204", "GET", "gzip", "", "", false, 204},
		{"not modified", "status=304&etag=%22v1%22", "GET", "gzip", "", "", false, 304},
		{"HEAD", "size=5000", "HEAD", "gzip", "", "", false, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, got := fetch(t, client, tc.method, base+"/body?"+tc.query, tc.ae, tc.rng)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			enc := resp.Header.Get("Content-Encoding")
			if enc != tc.enc {
				t.Fatalf("Content-Encoding %q, want %q", enc, tc.enc)
			}
			if vary := strings.Contains(strings.Join(resp.Header["Vary"], ","), "Accept-Encoding"); vary != tc.vary {
				t.Errorf("Vary %q, want Accept-Encoding: %v", resp.Header["Vary"], tc.vary)
			}
			compressed := enc != "" && !strings.Contains(tc.query, "content-encoding")
			if compressed {
				// The server may frame a body it holds whole with its
				// length: the compressed length.
				if (resp.ContentLength != -1 && resp.ContentLength != int64(len(got))) || resp.Header.Get("Accept-Ranges") != "" {
					t.Errorf("compressed response keeps Content-Length %d or Accept-Ranges %q", resp.ContentLength, resp.Header.Get("Accept-Ranges"))
				}
				got = decode(t, enc, bytes.NewReader(got))
			}
			if tc.method == "HEAD" || tc.status == 204 || tc.status == 304 || strings.Contains(tc.query, "content-encoding") {
				return
			}
			size, _ := strconv.Atoi(strings.TrimPrefix(strings.SplitN(tc.query, "&", 2)[0], "size="))
			want := compressBody(size)
			if !bytes.Equal(got, want) {
				t.Fatalf("body: %d bytes, want %d (same bytes: %v)", len(got), len(want), bytes.HasPrefix(want, got))
			}
			if !compressed && tc.status == 200 && resp.ContentLength != int64(size) {
				t.Errorf("uncompressed response: Content-Length %d, want %d", resp.ContentLength, size)
			}
			if strings.Contains(tc.query, "trailer") && resp.Trailer.Get("X-Sum") != "ok" {
				t.Errorf("trailer X-Sum = %q after a compressed body", resp.Trailer.Get("X-Sum"))
			}
		})
	}
}

func TestCompressETagAndVary(t *testing.T) {
	base := compressProxy(t, compressBackend(t), &Compression{})
	client := noDecodeClient()
	resp, _ := fetch(t, client, "GET", base+"/body?size=5000&etag=%22abc%22&vary=Origin", "gzip", "")
	if got := resp.Header.Get("ETag"); got != `W/"abc"` {
		t.Errorf("strong ETag of a compressed response: %q, want W/\"abc\"", got)
	}
	if got := resp.Header["Vary"]; len(got) != 2 || got[0] != "Origin" || got[1] != "Accept-Encoding" {
		t.Errorf("Vary %q, want [Origin Accept-Encoding]", got)
	}
	resp, _ = fetch(t, client, "GET", base+"/body?size=5000&etag=W/%22abc%22&vary=accept-encoding", "gzip", "")
	if got := resp.Header.Get("ETag"); got != `W/"abc"` {
		t.Errorf("weak ETag: %q", got)
	}
	if got := resp.Header["Vary"]; len(got) != 1 {
		t.Errorf("Vary named twice: %q", got)
	}
	resp, _ = fetch(t, client, "GET", base+"/body?size=5000&etag=%22abc%22", "", "")
	if got := resp.Header.Get("ETag"); got != `"abc"` {
		t.Errorf("ETag of an uncompressed response changed: %q", got)
	}
}

func TestCompressMinSizeAndTypes(t *testing.T) {
	base := compressProxy(t, compressBackend(t), &Compression{
		Encodings: []string{"gzip"}, MinSize: 100, ContentTypes: []string{"image/png"},
	})
	client := noDecodeClient()
	for _, tc := range []struct {
		query, ae, enc string
	}{
		{"size=200&type=image/png", "br, gzip", "gzip"},
		{"size=200&type=image/png&chunked=1", "gzip", "gzip"},
		{"size=99&type=image/png", "gzip", ""},
		{"size=5000", "gzip", ""}, // application/json is not listed
		{"size=200&type=image/png", "br, zstd", ""},
	} {
		resp, body := fetch(t, client, "GET", base+"/body?"+tc.query, tc.ae, "")
		if got := resp.Header.Get("Content-Encoding"); got != tc.enc {
			t.Errorf("%s with %q: Content-Encoding %q, want %q", tc.query, tc.ae, got, tc.enc)
			continue
		}
		size, _ := strconv.Atoi(strings.TrimPrefix(strings.SplitN(tc.query, "&", 2)[0], "size="))
		if got := decode(t, tc.enc, bytes.NewReader(body)); !bytes.Equal(got, compressBody(size)) {
			t.Errorf("%s: body differs", tc.query)
		}
	}
}

// TestCompressStreams checks that each flush of a stream reaches the
// client through the compressor: the backend sends the next event only
// after the client decoded the previous one.
func TestCompressStreams(t *testing.T) {
	// Each case has its own backend and channel: a handler of an earlier
	// case that has not seen its client leave yet must not take the next
	// case's signal.
	start := func(t *testing.T) (string, chan struct{}) {
		next := make(chan struct{})
		be := httptestHandler(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", r.URL.Query().Get("type"))
			w.WriteHeader(200)
			w.(http.Flusher).Flush()
			for i := range 3 {
				fmt.Fprintf(w, "data: event %d\n\n", i)
				w.(http.Flusher).Flush()
				select {
				case <-next:
				case <-r.Context().Done():
					return
				case <-time.After(10 * time.Second):
					return
				}
			}
		})
		return compressProxy(t, be, &Compression{}), next
	}
	client := noDecodeClient()
	for _, ct := range []string{"text/event-stream", "application/x-ndjson"} {
		for _, enc := range []string{"gzip", "br", "zstd"} {
			t.Run(ct+"/"+enc, func(t *testing.T) {
				base, next := start(t)
				req, _ := http.NewRequest("GET", base+"/events?type="+ct, nil)
				req.Header.Set("Accept-Encoding", enc)
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				if got := resp.Header.Get("Content-Encoding"); got != enc {
					t.Fatalf("Content-Encoding %q, want %q", got, enc)
				}
				var dr io.Reader
				switch enc {
				case "gzip":
					zr, err := gzip.NewReader(resp.Body)
					if err != nil {
						t.Fatal(err)
					}
					dr = zr
				case "br":
					dr = brotli.NewReader(resp.Body)
				case "zstd":
					// A concurrent decoder reads ahead of what it returns.
					zr, err := zstd.NewReader(resp.Body, zstd.WithDecoderConcurrency(1))
					if err != nil {
						t.Fatal(err)
					}
					defer zr.Close()
					dr = zr
				}
				br := bufio.NewReader(dr)
				for i := range 3 {
					want := fmt.Sprintf("data: event %d\n", i)
					line, err := br.ReadString('\n')
					if err != nil || line != want {
						t.Fatalf("event %d: %q, %v", i, line, err)
					}
					if _, err := br.ReadString('\n'); err != nil {
						t.Fatal(err)
					}
					if i < 2 {
						next <- struct{}{}
					}
				}
			})
		}
	}
}

func TestCompressBigBodies(t *testing.T) {
	base := compressProxy(t, compressBackend(t), &Compression{})
	client := noDecodeClient()
	const size = 3 << 20 // beyond the encoders' 1 MiB windows
	want := compressBody(size)
	for _, enc := range []string{"gzip", "br", "zstd"} {
		for _, chunked := range []string{"", "&chunked=1"} {
			resp, body := fetch(t, client, "GET", base+"/body?size="+strconv.Itoa(size)+chunked, enc, "")
			if got := resp.Header.Get("Content-Encoding"); got != enc {
				t.Fatalf("%s%s: Content-Encoding %q", enc, chunked, got)
			}
			if got := decode(t, enc, bytes.NewReader(body)); !bytes.Equal(got, want) {
				t.Fatalf("%s%s: %d bytes decoded, want %d", enc, chunked, len(got), len(want))
			}
			t.Logf("%s%s: %d bytes → %d (%.1f%%)", enc, chunked, size, len(body), 100*float64(len(body))/size)
		}
	}
}

func TestCompressConcurrent(t *testing.T) {
	base := compressProxy(t, compressBackend(t), &Compression{})
	client := noDecodeClient()
	encs := []string{"gzip", "br", "zstd", ""}
	sizes := []int{500, 3000, 70_000}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				enc, size := encs[(g+i)%len(encs)], sizes[(g*7+i)%len(sizes)]
				chunked := ""
				if i%2 == 0 {
					chunked = "&chunked=1"
				}
				req, _ := http.NewRequest("GET", base+"/body?size="+strconv.Itoa(size)+chunked, nil)
				if enc != "" {
					req.Header.Set("Accept-Encoding", enc)
				}
				resp, err := client.Do(req)
				if err != nil {
					errs <- err
					return
				}
				raw, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					errs <- err
					return
				}
				got := resp.Header.Get("Content-Encoding")
				switch {
				case size >= DefaultCompressMinSize:
				case chunked == "":
					enc = ""
				case got == "":
					// A short chunked body is sent as it is unless its
					// flush was held longer than flushHold.
					enc = ""
				}
				if got != enc {
					errs <- fmt.Errorf("size %d with %q: Content-Encoding %q", size, enc, got)
					return
				}
				if !bytes.Equal(decode(t, got, bytes.NewReader(raw)), compressBody(size)) {
					errs <- fmt.Errorf("size %d %s%s: body differs", size, enc, chunked)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestCompressBrokenUpstream checks that a body cut by the upstream does
// not reach the client as a whole compressed stream.
func TestCompressBrokenUpstream(t *testing.T) {
	be := httptestHandler(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", "100000")
		_, _ = w.Write(compressBody(40_000))
		w.(http.Flusher).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	base := compressProxy(t, be, &Compression{})
	client := noDecodeClient()
	for _, enc := range []string{"gzip", "br", "zstd"} {
		req, _ := http.NewRequest("GET", base+"/cut", nil)
		req.Header.Set("Accept-Encoding", enc)
		resp, err := client.Do(req)
		if err != nil {
			continue // nothing of the response was sent
		}
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Errorf("%s: a cut body read as complete", enc)
		}
	}
}

func TestCompressLeavesUpgradesAlone(t *testing.T) {
	be := streamBackend(t)
	base := compressProxy(t, addrOf(be), &Compression{MinSize: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, strings.Replace(base, "http", "ws", 1)+"/ws",
		&websocket.DialOptions{HTTPHeader: http.Header{"Accept-Encoding": {"gzip, br, zstd"}}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Content-Encoding") != "" || resp.Header.Get("Vary") != "" {
		t.Errorf("101 changed: %d %q", resp.StatusCode, resp.Header)
	}
	msg := strings.Repeat("compress me ", 1000)
	if err := ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	if _, got, err := ws.Read(ctx); err != nil || string(got) != msg {
		t.Fatalf("echo: %d bytes, %v", len(got), err)
	}
	_ = ws.Close(websocket.StatusNormalClosure, "")
}

func TestCompressEncoderCap(t *testing.T) {
	base := compressProxy(t, compressBackend(t), &Compression{})
	client := noDecodeClient()
	activeEncoders.Add(MaxActiveEncoders)
	for _, q := range []string{"size=5000", "size=50000&chunked=1"} {
		resp, body := fetch(t, client, "GET", base+"/body?"+q, "gzip", "")
		if enc := resp.Header.Get("Content-Encoding"); enc != "" || !bytes.Equal(body, compressBody(len(body))) || len(body) < 5000 {
			t.Errorf("%s with every encoder in use: Content-Encoding %q, %d bytes", q, enc, len(body))
		}
	}
	activeEncoders.Add(-MaxActiveEncoders)
	resp, _ := fetch(t, client, "GET", base+"/body?size=5000", "gzip", "")
	if enc := resp.Header.Get("Content-Encoding"); enc != "gzip" {
		t.Errorf("encoders free again: Content-Encoding %q", enc)
	}
	if n := activeEncoders.Load(); n != 0 {
		t.Errorf("%d encoders still counted in use after the responses", n)
	}
}

// TestCompressHeldFlushAndTrailers races the held flush of short chunked
// bodies with the trailers set after them: both codings are fine, the
// bytes and the trailer must arrive, and -race must stay quiet.
func TestCompressHeldFlushAndTrailers(t *testing.T) {
	base := compressProxy(t, compressBackend(t), &Compression{hold: time.Microsecond})
	client := noDecodeClient()
	for i := range 40 {
		size := 200 + 20*i
		resp, body := fetch(t, client, "GET", base+"/body?chunked=1&trailer=1&size="+strconv.Itoa(size), "gzip", "")
		if got := decode(t, resp.Header.Get("Content-Encoding"), bytes.NewReader(body)); !bytes.Equal(got, compressBody(size)) {
			t.Fatalf("size %d (%q): body differs", size, resp.Header.Get("Content-Encoding"))
		}
		if resp.Trailer.Get("X-Sum") != "ok" {
			t.Fatalf("size %d: trailer %q", size, resp.Trailer)
		}
	}
}

// TestCompressFiles serves a file route of a compressing service: text
// files are compressed, an image goes as it is (through sendfile), and a
// request with Range gets its bytes.
func TestCompressFiles(t *testing.T) {
	dir := t.TempDir()
	js := compressBody(40_000)
	png := bytes.Repeat([]byte{0x89, 'P', 'N', 'G'}, 10_000)
	if err := os.WriteFile(filepath.Join(dir, "app.js"), js, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "logo.png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
	p := newTestProxy(t, Options{})
	spec := oneSet("web", "v1")
	spec.Files = []FileRoute{{Prefix: "/assets/", Roots: map[string]string{"v1": dir}}}
	spec.Compression = &Compression{}
	if err := p.Apply([]ServiceSpec{spec}); err != nil {
		t.Fatal(err)
	}
	_, base := startServer(t, p, ServerOptions{})
	client := noDecodeClient()
	for _, enc := range []string{"gzip", "br", "zstd"} {
		resp, body := fetch(t, client, "GET", base+"/assets/app.js", enc, "")
		if resp.Header.Get("Content-Encoding") != enc || !bytes.Equal(decode(t, enc, bytes.NewReader(body)), js) {
			t.Errorf("app.js with %s: Content-Encoding %q, %d bytes", enc, resp.Header.Get("Content-Encoding"), len(body))
		}
		if et := resp.Header.Get("ETag"); et != "" && !strings.HasPrefix(et, "W/") {
			t.Errorf("app.js with %s: strong ETag %q", enc, et)
		}
	}
	resp, body := fetch(t, client, "GET", base+"/assets/logo.png", "gzip", "")
	if resp.Header.Get("Content-Encoding") != "" || !bytes.Equal(body, png) {
		t.Errorf("logo.png: Content-Encoding %q, %d bytes", resp.Header.Get("Content-Encoding"), len(body))
	}
	resp, body = fetch(t, client, "GET", base+"/assets/app.js", "gzip", "bytes=10-19")
	if resp.StatusCode != http.StatusPartialContent || resp.Header.Get("Content-Encoding") != "" || !bytes.Equal(body, js[10:20]) {
		t.Errorf("range of app.js: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Encoding"), body)
	}
}
