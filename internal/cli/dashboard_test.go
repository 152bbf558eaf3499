package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/testutil"
)

func TestDashboardForwardsUntilCancelled(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pr, pw := io.Pipe()
	var errOut testutil.SyncBuffer
	a := &app{stdout: pw, stderr: &errOut, getenv: func(k string) string { return h.env[k] },
		now: func() time.Time { return testNow }, loc: time.UTC}
	code := make(chan int, 1)
	go func() { code <- a.run(ctx, []string{"dashboard", "-o", "json"}); pw.Close() }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no link printed: %v; stderr: %s", err, errOut.String())
	}
	go io.Copy(io.Discard, pr)
	var link dashboardLink
	if err := json.Unmarshal([]byte(line), &link); err != nil {
		t.Fatalf("output %q: %v", line, err)
	}
	if !strings.HasPrefix(link.URL, "http://127.0.0.1:") || !strings.Contains(link.URL, "/ui/login?code=") || link.Listen == "" {
		t.Fatalf("link %+v", link)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(link.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 {
		t.Errorf("the link through the forwarder: %d with cookies %v, want 303 and a session", resp.StatusCode, resp.Cookies())
	}
	cancel()
	select {
	case c := <-code:
		if c != ExitOK {
			t.Errorf("exit %d after Ctrl-C, want 0; stderr: %s", c, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the forwarder did not stop")
	}
}

func TestDashboardBadListen(t *testing.T) {
	r := (*harness)(nil).run(t, "dashboard", "--listen", "7071")
	if r.code != ExitUsage || !strings.Contains(r.stderr, "--listen") {
		t.Errorf("exit %d, stderr %q; want %d naming --listen", r.code, r.stderr, ExitUsage)
	}
}
