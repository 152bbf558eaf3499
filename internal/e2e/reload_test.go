package e2e

import (
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReloadOnSIGHUP: a valid new config is applied; an invalid one is
// reported and the running config keeps serving.
func TestReloadOnSIGHUP(t *testing.T) {
	e := newEnv(t, "")
	e.start()
	e.mustCLI("deploy", "shop", "v1")
	orig, err := os.ReadFile(e.cfg)
	if err != nil {
		t.Fatal(err)
	}

	// Invalid: an unknown key. The old config keeps serving.
	bad := strings.Replace(string(orig), "    drain_timeout: 10s\n", "    drain_timeout: 10s\n    drian: 1\n", 1)
	if err := os.WriteFile(e.cfg, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.serve.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the rejected reload to be logged", 10*time.Second, func() bool {
		return strings.Contains(e.logs.String(), "config reload rejected")
	})
	if log := e.logs.String(); !strings.Contains(log, "drian") {
		t.Errorf("the rejection does not name the bad key:\n%s", log)
	}
	if v := e.version(); v != "v1" {
		t.Errorf("serving %q after a rejected reload, want v1", v)
	}

	// Valid: the service now answers only for shop.example.com.
	good := strings.Replace(string(orig), "    runtime: process\n", "    hosts: [\"shop.example.com\"]\n    runtime: process\n", 1)
	if err := os.WriteFile(e.cfg, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.serve.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reload to be applied", 10*time.Second, func() bool {
		return strings.Contains(e.logs.String(), "config reloaded")
	})
	status := func(host string) int {
		req, _ := http.NewRequest("POST", "http://"+e.http+"/", strings.NewReader("x"))
		req.Host = host
		resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status("shop.example.com"); got != 200 {
		t.Errorf("shop.example.com: status %d after reload, want 200", got)
	}
	if got := status("other.example.com"); got != 404 {
		t.Errorf("other.example.com: status %d after reload, want 404", got)
	}
	if got := e.versionsRunning(); got["v1"] != 1 {
		t.Errorf("reload restarted or lost the app: %v", got)
	}
	e.stop()
}
