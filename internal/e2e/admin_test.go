package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cutover-dev/cutover/internal/testutil"
)

// TestAdminAPIGuards: the socket is 0600, TCP needs the token, and a
// second deploy while one runs is refused with a clear message.
func TestAdminAPIGuards(t *testing.T) {
	port := testutil.FreePort(t)
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(e2eToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, "")
	cfg, _ := os.ReadFile(e.cfg)
	cfg = []byte(strings.Replace(string(cfg), "admin:\n", fmt.Sprintf("admin:\n  tcp: \"127.0.0.1:%d\"\n  token_file: %q\n", port, tokenFile), 1))
	if err := os.WriteFile(e.cfg, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	e.start()

	fi, err := os.Stat(e.sock)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("admin socket mode %o, want 600", mode)
	}

	url := fmt.Sprintf("http://127.0.0.1:%d/v1/services", port)
	for _, tc := range []struct {
		token string
		want  int
	}{{"", 401}, {"wrong", 401}, {e2eToken, 200}} {
		req, _ := http.NewRequest("GET", url, nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("token %q: status %d, want %d", tc.token, resp.StatusCode, tc.want)
		}
	}

	e.mustCLI("deploy", "shop", "v1")
	e.flags("v2", "--start-delay 5s")
	e.mustCLI("deploy", "shop", "v2", "--detach")
	r := e.cli("deploy", "shop", "v3")
	if r.code != exitRefused {
		t.Errorf("concurrent deploy: exit %d, want %d\n%s%s", r.code, exitRefused, r.stdout, r.stderr)
	}
	if out := r.stdout + r.stderr; !strings.Contains(out, "in progress") && !strings.Contains(out, "running") {
		t.Errorf("refusal does not say a deploy is running:\n%s", out)
	}
	e.mustCLI("abort", "shop")
	e.stop()
}
