package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/cutover-dev/cutover/internal/sampleapp"
)

// decoder returns a reader of body decoded by the content coding enc.
func decoder(enc string, body io.Reader) (io.Reader, error) {
	switch enc {
	case "":
		return body, nil
	case "gzip":
		return gzip.NewReader(body)
	case "br":
		return brotli.NewReader(body), nil
	case "zstd":
		// One goroutine: a concurrent decoder reads ahead of what it returns.
		zr, err := zstd.NewReader(body, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		return zr.IOReadCloser(), nil
	}
	return nil, fmt.Errorf("unknown Content-Encoding %q", enc)
}

// getText sends method path with Accept-Encoding ae and checks that the
// answer is coded with want and decodes to the sample app's text of size
// bytes for the version that answered, which it returns. vary says whether
// the answer must carry Vary: Accept-Encoding.
func getText(client *http.Client, method, url, ae, want string, size int, vary bool) (string, error) {
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader("x")
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return "", err
	}
	if ae != "" {
		req.Header.Set("Accept-Encoding", ae)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("status %d", resp.StatusCode)
	}
	enc := resp.Header.Get("Content-Encoding")
	if enc != want {
		return "", fmt.Errorf("Content-Encoding %q, want %q", enc, want)
	}
	if got := strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding"); got != vary {
		return "", fmt.Errorf("Vary %q: Accept-Encoding named %v, want %v", resp.Header.Get("Vary"), got, vary)
	}
	dr, err := decoder(enc, resp.Body)
	if err != nil {
		return "", err
	}
	got, err := io.ReadAll(dr)
	if err != nil {
		return "", fmt.Errorf("decoding %s: %w", enc, err)
	}
	v := resp.Header.Get("X-Version")
	if !bytes.Equal(got, sampleapp.TextBody(v, size)) {
		return v, fmt.Errorf("%s body of %s: %d bytes, not the %d sent", enc, v, len(got), size)
	}
	return v, nil
}

// TestCompressionThroughBinary serves the sample app with compression on:
// each coding decodes to the bytes the app sent, short bodies and
// unaccepted codings go as they are, an event stream flows through the
// compressor, and two switches under compressed load fail no request.
func TestCompressionThroughBinary(t *testing.T) {
	e := newEnv(t, "    compression:\n      algorithms: [zstd, br, gzip]\n      min_size: 1KiB\n")
	e.start()
	e.mustCLI("deploy", "shop", "v1")
	base := "http://" + e.http
	tr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 20 * time.Second}

	for _, tc := range []struct {
		path, ae, want string
		size           int
		vary           bool
	}{
		{"/text?size=100000", "gzip", "gzip", 100000, true},
		{"/text?size=100000", "br", "br", 100000, true},
		{"/text?size=100000", "zstd", "zstd", 100000, true},
		{"/text?size=100000&chunked=1", "zstd", "zstd", 100000, true},
		{"/text?size=100000&type=application/json", "gzip, deflate, br, zstd", "zstd", 100000, true},
		{"/text?size=100000", "br;q=0.5, gzip;q=0.8", "gzip", 100000, true},
		{"/text?size=100000", "", "", 100000, true},
		{"/text?size=100000&type=image/png", "gzip", "", 100000, false},
		{"/text?size=500", "gzip", "", 500, false},
	} {
		if _, err := getText(client, "GET", base+tc.path, tc.ae, tc.want, tc.size, tc.vary); err != nil {
			t.Errorf("GET %s with %q: %v", tc.path, tc.ae, err)
		}
	}

	// An event stream: each event arrives through the compressor while the
	// stream stays open.
	for _, enc := range []string{"gzip", "br", "zstd"} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/sse?interval=50ms", nil)
		req.Header.Set("Accept-Encoding", enc)
		resp, err := client.Do(req)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		if got := resp.Header.Get("Content-Encoding"); got != enc {
			t.Errorf("event stream with %s: Content-Encoding %q", enc, got)
		}
		dr, err := decoder(resp.Header.Get("Content-Encoding"), resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(dr)
		for n := 1; n <= 3; n++ {
			want := fmt.Sprintf(`data: {"version":"v1","n":%d}`, n)
			for sc.Scan() && !strings.HasPrefix(sc.Text(), "data:") {
			}
			if sc.Text() != want {
				t.Errorf("event %d with %s: %q (%v), want %q", n, enc, sc.Text(), sc.Err(), want)
				break
			}
		}
		cancel()
		resp.Body.Close()
	}

	// Load with every coding across two switches: keep-alive POSTs (never
	// retried by the transport) and GETs on new connections.
	noKeep := &http.Transport{DisableCompression: true, DisableKeepAlives: true}
	var (
		total, failed atomic.Int64
		mu            sync.Mutex
		errs          []string
		per           = map[string]int{}
	)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	encs := []string{"gzip", "br", "zstd", ""}
	for w := range 8 {
		wg.Go(func() {
			c, method := client, http.MethodPost
			if w%2 == 1 {
				c, method = &http.Client{Transport: noKeep, Timeout: 20 * time.Second}, http.MethodGet
			}
			for i := 0; ctx.Err() == nil; i++ {
				enc := encs[(w+i)%len(encs)]
				path := "/text?size=30000"
				if i%3 == 0 {
					path += "&chunked=1"
				}
				v, err := getText(c, method, base+path, enc, enc, 30000, true)
				total.Add(1)
				mu.Lock()
				if err != nil {
					failed.Add(1)
					if len(errs) < 10 {
						errs = append(errs, err.Error())
					}
				} else {
					per[v]++
				}
				mu.Unlock()
			}
		})
	}
	served := func(v string) {
		waitFor(t, "compressed responses from "+v, 20*time.Second, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return per[v] >= 50
		})
	}
	served("v1")
	e.mustCLI("deploy", "shop", "v2")
	served("v2")
	e.mustCLI("deploy", "shop", "v3")
	served("v3")
	cancel()
	wg.Wait()
	noKeep.CloseIdleConnections()
	t.Logf("%d requests, %d failed, per version %v", total.Load(), failed.Load(), per)
	if failed.Load() != 0 {
		t.Errorf("%d of %d compressed requests failed across two switches: %v", failed.Load(), total.Load(), errs)
	}
	if per["v1"] == 0 || per["v2"] == 0 {
		t.Errorf("load did not cover the switches: %v", per)
	}
	e.stop()
}
