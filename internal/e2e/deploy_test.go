package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/deploy"
	"github.com/cutover-dev/cutover/internal/loadgen"
)

// Exit codes documented in the README.
const (
	exitOK         = 0
	exitFailed     = 1
	exitUsage      = 2
	exitRolledBack = 3
	exitRefused    = 5
	exitAborted    = 6
)

// TestDeploysAndRollbacksUnderLoad runs 20 deploys and rollbacks in a row
// while clients send keep-alive and new-connection GETs and POSTs, some of
// them slow: no request may fail.
func TestDeploysAndRollbacksUnderLoad(t *testing.T) {
	e := newEnv(t, "")
	e.start()
	e.mustCLI("deploy", "shop", "v1")
	if v := e.version(); v != "v1" {
		t.Fatalf("serving %q, want v1", v)
	}
	l := loadgen.New(loadgen.Options{URL: "http://" + e.http, Workers: 32, SlowEvery: 25, SlowPath: "/slow?ms=1500"})
	ctx, cancel := context.WithCancel(context.Background())
	loadDone := make(chan struct{})
	go func() { defer close(loadDone); l.Run(ctx) }()
	ops := 0
	for i := 2; ops < 20; i++ {
		v := fmt.Sprintf("v%d", i)
		e.mustCLI("deploy", "shop", v)
		ops++
		if got := e.version(); got != v {
			t.Errorf("after deploy of %s the proxy serves %s", v, got)
		}
		if i%2 == 0 {
			r := e.mustCLI("rollback", "shop")
			ops++
			prev := fmt.Sprintf("v%d", i-1)
			if got := e.version(); got != prev {
				t.Errorf("after rollback the proxy serves %s, want %s\n%s", got, prev, r.stdout)
			}
		}
	}
	cancel()
	<-loadDone
	total, failed, per, errs := l.Totals()
	t.Logf("%d operations, %d requests, %d failed, per version %v", ops, total, failed, per)
	if failed != 0 {
		t.Errorf("%d of %d requests failed during deploys: %v", failed, total, errs)
	}
	if total < 1000 {
		t.Errorf("only %d requests were sent; the load did not run", total)
	}
	if len(per) < 5 {
		t.Errorf("traffic reached %d versions, want the deployed ones: %v", len(per), per)
	}
	e.stop()
}

// TestNeverHealthyVersion: the deploy fails with the "failed" exit code,
// traffic stays on the old version, the new process is gone, and the
// output of the new instance is shown.
func TestNeverHealthyVersion(t *testing.T) {
	e := newEnv(t, "")
	e.start()
	e.mustCLI("deploy", "shop", "v1")
	e.flags("v2", "--unhealthy")
	r := e.cli("deploy", "shop", "v2", "--timeout", "60s")
	if r.code != exitFailed {
		t.Fatalf("exit %d, want %d (failed)\nstdout:\n%s\nstderr:\n%s", r.code, exitFailed, r.stdout, r.stderr)
	}
	out := r.stdout + r.stderr
	for _, want := range []string{"did not become healthy", "status 503", "sample-app v2 listening"} {
		if !strings.Contains(out, want) {
			t.Errorf("deploy output lacks %q:\n%s", want, out)
		}
	}
	if v := e.version(); v != "v1" {
		t.Errorf("serving %s after a failed deploy, want v1", v)
	}
	if running := e.versionsRunning(); running["v2"] != 0 || running["v1"] != 1 {
		t.Errorf("instances running after failed deploy: %v, want only v1", running)
	}
	hist := e.mustCLI("history", "shop", "-o", "json")
	if !strings.Contains(hist.stdout, `"failed"`) {
		t.Errorf("history does not record the failure:\n%s", hist.stdout)
	}
	e.stop()
}

// TestCrashAfterSwitchRollsBack: a version that crashes soon after the
// switch is rolled back to the warm standby automatically.
func TestCrashAfterSwitchRollsBack(t *testing.T) {
	e := newEnv(t, "")
	e.start()
	e.mustCLI("deploy", "shop", "v1")
	e.flags("v2", "--crash-after 1500ms")
	l := loadgen.New(loadgen.Options{URL: "http://" + e.http, Workers: 8})
	ctx, cancel := context.WithCancel(context.Background())
	loadDone := make(chan struct{})
	go func() { defer close(loadDone); l.Run(ctx) }()
	start := time.Now()
	r := e.cli("deploy", "shop", "v2", "--watch", "20s")
	took := time.Since(start)
	cancel()
	<-loadDone
	if r.code != exitRolledBack {
		t.Fatalf("exit %d, want %d (rolled back)\nstdout:\n%s\nstderr:\n%s", r.code, exitRolledBack, r.stdout, r.stderr)
	}
	if v := e.version(); v != "v1" {
		t.Errorf("serving %s after the rollback, want v1", v)
	}
	total, failed, per, errs := l.Totals()
	rate := float64(total) / took.Seconds()
	t.Logf("%d requests (%.0f/s), %d failed, per version %v, errors %v", total, rate, failed, per, errs)
	// cutover learns of the crash when it reaps the process, not at the
	// next probe, and switches back at once: only requests in flight at the
	// crash and those of the few milliseconds of the switch may fail. Bound
	// them by 0.2 s of traffic (a probe-driven rollback would lose ~0.25 s).
	if bound := int64(rate * 0.2); failed > bound {
		t.Errorf("%d requests failed around the crash, want at most %d (0.2 s of traffic)", failed, bound)
	}
	if per["v2"] == 0 {
		t.Errorf("v2 never served: the crash came before the switch")
	}
	waitFor(t, "v2 instance to be gone", 10*time.Second, func() bool { return e.versionsRunning()["v2"] == 0 })
	var hist []map[string]any
	if err := json.Unmarshal([]byte(e.mustCLI("history", "shop", "-o", "json").stdout), &hist); err != nil {
		t.Fatalf("history json: %v", err)
	}
	if len(hist) == 0 || hist[0]["outcome"] != "rolled_back" {
		t.Errorf("newest history record is %v, want outcome rolled_back", hist)
	}
	e.stop()
}

// TestFailedDeployKeepsTheStandby: with two ports, a live version and its
// warm standby hold both; a deploy needs the standby's port, says so, and
// when the new version fails the standby is started again, so the next
// rollback is still instant. No request fails meanwhile.
func TestFailedDeployKeepsTheStandby(t *testing.T) {
	e := newEnv(t, "")
	e.start()
	e.mustCLI("deploy", "shop", "v1")
	e.mustCLI("deploy", "shop", "v2")
	if running := e.versionsRunning(); running["v1"] != 1 || running["v2"] != 1 {
		t.Fatalf("before the failed deploy: %v, want v2 live and v1 on standby", running)
	}
	l := newVersionLoad("http://"+e.http, 4, 2*time.Millisecond)
	stop := l.start()
	defer stop()
	e.flags("v3", "--exit-immediately")
	r := e.cli("deploy", "shop", "v3")
	if r.code != exitFailed {
		t.Fatalf("exit %d, want %d (failed)\nstdout:\n%s\nstderr:\n%s", r.code, exitFailed, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "the standby of v1 holds the only free port; it is stopped now and restarted if this deploy fails") {
		t.Errorf("the deploy did not say it stops the standby:\n%s", r.stdout)
	}
	st := e.waitStatus("the standby back", 20*time.Second, func(st deploy.ServiceStatus) bool {
		return st.Op == nil && st.Standby != nil && st.Standby.Version == "v1" && len(st.Standby.Instances) == 1
	})
	if st.Active == nil || st.Active.Version != "v2" {
		t.Fatalf("after the failed deploy: active %+v, want v2", st.Active)
	}
	if running := e.versionsRunning(); running["v1"] != 1 || running["v2"] != 1 || running["v3"] != 0 {
		t.Fatalf("after the failed deploy: %v, want v2 live and v1 on standby again", running)
	}
	rb := e.mustCLI("rollback", "shop")
	if !strings.Contains(rb.stdout, "traffic switched back to v1") || strings.Contains(rb.stdout, "starting") {
		t.Errorf("the rollback was not a switch to the warm standby:\n%s", rb.stdout)
	}
	if v := e.version(); v != "v1" {
		t.Errorf("serving %s after the rollback, want v1", v)
	}
	stop()
	ok, failed, transport := l.totals()
	if len(failed) != 0 || len(transport) != 0 || ok["v2"] == 0 {
		t.Errorf("served %v, failed %v, transport errors %v: want no failure", ok, failed, transport)
	}
	e.stop()
}
