package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestVersionedFiles: the service serves /assets/ from a directory per
// version. Through a switch from v1 to v2 under load every asset request
// succeeds, and each response is one version's file; afterwards v2's
// files are served, v1's file that v2 lacks stays reachable while v1 is
// the standby, dotfiles and symlinks out of the root are refused, and a
// version without its files directory is refused before anything starts.
func TestVersionedFiles(t *testing.T) {
	assets, err := os.MkdirTemp("", "co-assets-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(assets) })
	big := bytes.Repeat([]byte("0123456789abcdef"), 64*1024) // 1 MiB
	for _, v := range []string{"v1", "v2"} {
		dir := filepath.Join(assets, v)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		files := map[string][]byte{"app.js": []byte("js of " + v), "big.bin": append([]byte(v), big...), ".env": []byte("SECRET")}
		if v == "v1" {
			files["only-v1.css"] = []byte("css of v1")
		}
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(assets, "outside.txt"), []byte("OUTSIDE"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(assets, "outside.txt"), filepath.Join(assets, "v2", "escape.txt")); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, fmt.Sprintf(`    files:
      - path: /assets/
        root: %q
        cache: [{match: "*.js", value: "public, max-age=31536000, immutable"}]
`, filepath.Join(assets, "{{.Version}}")))
	e.start()
	e.mustCLI("deploy", "shop", "v1")

	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(path string) (int, string, http.Header, error) {
		resp, err := c.Get("http://" + e.http + path)
		if err != nil {
			return 0, "", nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header, err
	}
	if code, body, h, err := get("/assets/app.js"); err != nil || code != 200 || body != "js of v1" || h.Get("Cache-Control") != "public, max-age=31536000, immutable" {
		t.Fatalf("v1's app.js: %d %q %v (Cache-Control %q)", code, body, err, h.Get("Cache-Control"))
	}

	// Load through the switch: a new connection per request (nothing to
	// retry), small and 1 MiB files.
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			path := "/assets/app.js"
			if w%2 == 1 {
				path = "/assets/big.bin"
			}
			for {
				select {
				case <-stop:
					return
				default:
				}
				code, body, _, err := get(path)
				switch {
				case err == nil && code == 200 && (body == "js of v1" || body == "js of v2" ||
					len(body) == len(big)+2 && (strings.HasPrefix(body, "v1") || strings.HasPrefix(body, "v2"))):
					ok.Add(1)
				default:
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("%s: %d %.40q %v", path, code, body, err))
				}
			}
		})
	}
	waitFor(t, "load", 10*time.Second, func() bool { return ok.Load() > 50 })
	e.mustCLI("deploy", "shop", "v2")
	at := ok.Load()
	waitFor(t, "load after the switch", 10*time.Second, func() bool { return ok.Load() > at+50 })
	close(stop)
	wg.Wait()
	t.Logf("%d asset requests through the switch, %d failed", ok.Load(), failed.Load())
	if failed.Load() > 0 {
		t.Fatalf("%d asset requests failed; first: %v", failed.Load(), firstErr.Load())
	}

	for _, tc := range []struct {
		path string
		code int
		body string
	}{
		{"/assets/app.js", 200, "js of v2"},
		{"/assets/only-v1.css", 200, "css of v1"}, // the standby's, for pages loaded before the switch
		{"/assets/.env", 404, ""},
		{"/assets/escape.txt", 404, ""},
		{"/assets/../assets/.env", 404, ""},
		{"/assets/%2e%2e/outside.txt", 200, ""}, // normalised to /outside.txt: the app's, not a file
	} {
		code, body, _, err := get(tc.path)
		if err != nil || code != tc.code || (tc.body != "" && body != tc.body) || strings.Contains(body, "SECRET") || strings.Contains(body, "OUTSIDE") {
			t.Errorf("GET %s: %d %q %v; want %d %q", tc.path, code, body, err, tc.code, tc.body)
		}
	}

	r := e.cli("deploy", "shop", "v3")
	if r.code != exitUsage || !strings.Contains(r.stdout+r.stderr, "files[0].root") {
		t.Fatalf("deploy of a version without its files: exit %d, want %d naming files[0].root\n%s%s", r.code, exitUsage, r.stdout, r.stderr)
	}
	if n := e.versionsRunning()["v3"]; n != 0 {
		t.Fatalf("%d v3 instance(s) started for a refused deploy", n)
	}
}
