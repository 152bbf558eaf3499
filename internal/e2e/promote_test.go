package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/loadgen"
)

// TestDeployRightAfterPromote: a CI job promotes v2 and deploys v3 at once
// while v1, which ignores SIGTERM, is still stopping (3s stop grace). The
// deploy is accepted (no exit 5), waits for the port v1 still holds, and
// goes live; the retiring v1 shows in status meanwhile; no request fails.
func TestDeployRightAfterPromote(t *testing.T) {
	e := newEnv(t, "")
	e.start()
	e.flags("v1", "--ignore-sigterm")
	e.mustCLI("deploy", "shop", "v1")
	e.mustCLI("deploy", "shop", "v2")
	l := loadgen.New(loadgen.Options{URL: "http://" + e.http, Workers: 16})
	ctx, cancel := context.WithCancel(context.Background())
	loadDone := make(chan struct{})
	go func() { defer close(loadDone); l.Run(ctx) }()

	e.mustCLI("promote", "shop")
	waitFor(t, "v1 to be retiring", 10*time.Second, func() bool {
		st := e.status()
		return len(st.Retiring) == 1 && st.Retiring[0].Version == "v1"
	})
	if e.versionsRunning()["v1"] != 1 {
		t.Fatalf("v1 stopped before the deploy; the test needs it still stopping")
	}
	start := time.Now()
	r := e.cli("deploy", "shop", "v3")
	took := time.Since(start)
	cancel()
	<-loadDone
	if r.code != exitOK {
		t.Fatalf("deploy right after promote: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("deploy of v3 right after the promote took %s (v1 held the only free port until its stop grace ended)", took.Round(time.Millisecond))
	if v := e.version(); v != "v3" {
		t.Errorf("serving %s, want v3", v)
	}
	total, failed, per, errs := l.Totals()
	t.Logf("%d requests, %d failed, per version %v", total, failed, per)
	if failed > 0 || total == 0 {
		t.Errorf("%d of %d requests failed: %v", failed, total, errs)
	}
	waitFor(t, "v1 to be gone", 10*time.Second, func() bool { return e.versionsRunning()["v1"] == 0 })
	e.stop()
}
