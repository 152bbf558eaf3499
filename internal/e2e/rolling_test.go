package e2e

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/api"
	"github.com/cutover-dev/cutover/internal/deploy"
	"github.com/cutover-dev/cutover/internal/loadgen"
	"github.com/cutover-dev/cutover/internal/store"
	"github.com/cutover-dev/cutover/internal/testutil"
)

// rollingReplicas is the number of replicas of the rolling tests.
const rollingReplicas = 4

// newRollingEnv is newEnv for a rolling service of rollingReplicas
// replicas with the given max_surge and max_unavailable, and a pool of n
// ports (the replicas, the surge, and the replaced instances kept warm).
func newRollingEnv(t *testing.T, n, surge, unavailable int) *env {
	t.Helper()
	e := newEnv(t, fmt.Sprintf("    strategy: rolling\n    replicas: %d\n    rolling:\n      max_surge: %d\n      max_unavailable: %d\n",
		rollingReplicas, surge, unavailable))
	ports := make([]string, n)
	for i := range ports {
		ports[i] = fmt.Sprint(testutil.FreePort(t))
	}
	cfg, err := os.ReadFile(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct{ re, to string }{
		{`(?m)^    ports: \[.*\]$`, "    ports: [" + strings.Join(ports, ", ") + "]"},
		// An instance that never gets healthy fails its gate sooner.
		{`(?m)^    deploy_timeout: .*$`, "    deploy_timeout: 3s"},
	} {
		re := regexp.MustCompile(r.re)
		if !re.Match(cfg) {
			t.Fatalf("config has no line matching %s:\n%s", r.re, cfg)
		}
		cfg = re.ReplaceAll(cfg, []byte(r.to))
	}
	if err := os.WriteFile(e.cfg, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

// capacitySampler reads status through the admin API as fast as it
// answers and records the fewest healthy instances routed at once (active
// plus candidate: every routed instance of the service).
type capacitySampler struct {
	mu      sync.Mutex
	min     int
	samples int
	errs    []string
	stop    func()
}

func (e *env) sampleCapacity() *capacitySampler {
	e.t.Helper()
	c, err := api.NewClient("unix://"+e.sock, "")
	if err != nil {
		e.t.Fatal(err)
	}
	s := &capacitySampler{min: 1 << 30}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer c.Close()
		for ctx.Err() == nil {
			st, err := c.Status(ctx, "shop")
			s.mu.Lock()
			if err != nil {
				if ctx.Err() == nil && len(s.errs) < 5 {
					s.errs = append(s.errs, err.Error())
				}
			} else {
				s.samples++
				s.min = min(s.min, routedHealthy(st))
			}
			s.mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	}()
	s.stop = func() { cancel(); <-done }
	return s
}

// result stops sampling and returns the fewest healthy routed instances
// seen and the number of samples.
func (s *capacitySampler) result() (fewest, samples int, errs []string) {
	s.stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.min, s.samples, s.errs
}

func routedHealthy(st deploy.ServiceStatus) int {
	n := 0
	for _, r := range []*deploy.ReleaseStatus{st.Active, st.Candidate} {
		if r == nil {
			continue
		}
		for _, in := range r.Instances {
			if in.Healthy {
				n++
			}
		}
	}
	return n
}

// startLoad runs keep-alive and new-connection clients, some of them slow,
// until the returned stop function is called.
func (e *env) startLoad() (*loadgen.Load, func()) {
	l := loadgen.New(loadgen.Options{URL: "http://" + e.http, Workers: 16, SlowEvery: 20, SlowPath: "/slow?ms=300"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx) }()
	return l, func() { cancel(); <-done }
}

// TestRollingUnderLoad replaces 4 instances (max_surge 1, max_unavailable
// 1) under concurrent load: no request fails, and at every sample of status
// at least replicas − max_unavailable healthy instances are routed.
func TestRollingUnderLoad(t *testing.T) {
	const floor = rollingReplicas - 1
	e := newRollingEnv(t, 2*rollingReplicas+1, 1, 1)
	e.start()
	e.mustCLI("deploy", "shop", "v1")
	if got := e.versionsRunning(); got["v1"] != rollingReplicas {
		t.Fatalf("instances after the first deploy: %v, want %d of v1", got, rollingReplicas)
	}
	l, stopLoad := e.startLoad()
	sampler := e.sampleCapacity()
	r := e.cli("deploy", "shop", "v2")
	fewest, samples, serrs := sampler.result()
	stopLoad()
	t.Logf("deploy output:\n%s", r.stdout)
	if r.code != exitOK {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, exitOK, r.stdout, r.stderr)
	}
	total, failed, per, errs := l.Totals()
	t.Logf("%d requests, %d failed, per version %v; %d status samples, fewest healthy routed %d", total, failed, per, samples, fewest)
	if failed != 0 {
		t.Errorf("%d of %d requests failed during the rolling update: %v", failed, total, errs)
	}
	if per["v1"] == 0 || per["v2"] == 0 {
		t.Errorf("traffic per version %v: both versions should have served", per)
	}
	if len(serrs) != 0 {
		t.Errorf("status failed during the update: %v", serrs)
	}
	if samples < 20 {
		t.Errorf("only %d status samples during the update", samples)
	}
	if fewest < floor {
		t.Errorf("capacity fell to %d healthy routed instances, below replicas − max_unavailable = %d", fewest, floor)
	}
	st := e.status()
	if st.Active == nil || st.Active.Version != "v2" || len(st.Active.Instances) != rollingReplicas || st.Candidate != nil {
		t.Errorf("after the update: active %+v, candidate %+v; want %d instances of v2", st.Active, st.Candidate, rollingReplicas)
	}
	if st.Standby == nil || st.Standby.Version != "v1" || len(st.Standby.Instances) != rollingReplicas {
		t.Errorf("standby %+v, want the %d replaced v1 instances kept warm", st.Standby, rollingReplicas)
	}
	if got := e.versionsRunning(); got["v2"] != rollingReplicas || got["v1"] != rollingReplicas {
		t.Errorf("instances running %v, want %d of v2 and %d warm of v1", got, rollingReplicas, rollingReplicas)
	}
	for i := range rollingReplicas {
		if v := e.version(); v != "v2" {
			t.Fatalf("request %d served by %s after the update, want v2", i, v)
		}
	}
	e.mustCLI("rollback", "shop")
	if st := e.status(); st.Active == nil || st.Active.Version != "v1" || len(st.Active.Instances) != rollingReplicas {
		t.Errorf("after rollback to the warm standby: active %+v, want %d instances of v1", st.Active, rollingReplicas)
	}
	e.stop()
}

// TestRollingNeverHealthy: a version that never passes its health check
// never serves: the deploy fails (exit 1), the old instance taken out of
// service under max_unavailable is started again (no port is free to keep
// it warm), and the 4 old instances serve at the end with no new instance
// left.
func TestRollingNeverHealthy(t *testing.T) {
	const floor = rollingReplicas - 1
	e := newRollingEnv(t, rollingReplicas+1, 1, 1)
	e.start()
	e.mustCLI("deploy", "shop", "v1")
	e.flags("v2", "--unhealthy")
	l, stopLoad := e.startLoad()
	sampler := e.sampleCapacity()
	r := e.cli("deploy", "shop", "v2")
	fewest, samples, _ := sampler.result()
	stopLoad()
	if r.code != exitFailed {
		t.Fatalf("exit %d, want %d (failed)\nstdout:\n%s\nstderr:\n%s", r.code, exitFailed, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout+r.stderr, "did not become healthy") {
		t.Errorf("deploy output does not say why:\n%s\n%s", r.stdout, r.stderr)
	}
	total, failed, per, errs := l.Totals()
	t.Logf("%d requests, %d failed, per version %v; %d status samples, fewest healthy routed %d", total, failed, per, samples, fewest)
	if failed != 0 || per["v2"] != 0 {
		t.Errorf("%d of %d requests failed, %d served by v2: %v", failed, total, per["v2"], errs)
	}
	if fewest < floor {
		t.Errorf("capacity fell to %d healthy routed instances, below %d", fewest, floor)
	}
	st := e.status()
	if st.Active == nil || st.Active.Version != "v1" || routedHealthy(st) != rollingReplicas || st.Candidate != nil {
		t.Errorf("after the failed update: active %+v, candidate %+v; want %d healthy v1 instances", st.Active, st.Candidate, rollingReplicas)
	}
	waitFor(t, "v2 instances to be gone", 10*time.Second, func() bool { return e.versionsRunning()["v2"] == 0 })
	if got := e.versionsRunning(); got["v1"] != rollingReplicas {
		t.Errorf("instances running %v, want %d of v1", got, rollingReplicas)
	}
	if h := e.history()[0]; h.Outcome != store.OutcomeFailed {
		t.Errorf("newest history record %+v, want failed", h)
	}
	e.stop()
}

// TestRollingFailureRollsBack: one instance at a time (max_surge 1,
// max_unavailable 0), the first new instance is healthy and replaces an old
// one, a later one never gets healthy: the update is rolled back (exit 3),
// the warm old instances serve again first, and under load no request
// fails and capacity never drops below the 4 replicas.
func TestRollingFailureRollsBack(t *testing.T) {
	const floor = rollingReplicas
	e := newRollingEnv(t, 2*rollingReplicas+1, 1, 0)
	e.start()
	e.mustCLI("deploy", "shop", "v1")
	l, stopLoad := e.startLoad()
	sampler := e.sampleCapacity()
	deploying := e.cliAsync("deploy", "shop", "v2")
	// Instances read their flags before the sample app starts: once the
	// first v2 instance runs the app, the next ones start unhealthy. The
	// next start waits for the first one's health gate, so the flags
	// change in time for the second, or at worst a later, instance.
	waitFor(t, "the first v2 app", 30*time.Second, func() bool { return e.appsRunning("v2") > 0 })
	e.flags("v2", "--unhealthy")
	r := <-deploying
	fewest, samples, _ := sampler.result()
	stopLoad()
	t.Logf("deploy output:\n%s", r.stdout)
	if r.code != exitRolledBack {
		t.Fatalf("exit %d, want %d (rolled back)\nstdout:\n%s\nstderr:\n%s", r.code, exitRolledBack, r.stdout, r.stderr)
	}
	for _, want := range []string{"did not become healthy", "warm instance(s) of v1 serve again", "all 4 instances run v1 again"} {
		if !strings.Contains(r.stdout+r.stderr, want) {
			t.Errorf("deploy output lacks %q:\n%s\n%s", want, r.stdout, r.stderr)
		}
	}
	total, failed, per, errs := l.Totals()
	t.Logf("%d requests, %d failed, per version %v; %d status samples, fewest healthy routed %d", total, failed, per, samples, fewest)
	if failed != 0 {
		t.Errorf("%d of %d requests failed: %v", failed, total, errs)
	}
	if per["v2"] == 0 {
		t.Errorf("v2 never served: nothing was replaced before the failure")
	}
	if !strings.Contains(r.stdout, "1/4 instances run v2") || strings.Contains(r.stdout, "4/4 instances run v2") {
		t.Errorf("deploy output should show instances replaced before the failure, but not all:\n%s", r.stdout)
	}
	if fewest < floor {
		t.Errorf("capacity fell to %d healthy routed instances, below %d", fewest, floor)
	}
	st := e.status()
	if st.Active == nil || st.Active.Version != "v1" || routedHealthy(st) != rollingReplicas || st.Candidate != nil || st.Op != nil {
		t.Errorf("after the rollback: %+v; want %d healthy v1 instances and nothing in progress", st, rollingReplicas)
	}
	waitFor(t, "v2 instances to be gone", 10*time.Second, func() bool { return e.versionsRunning()["v2"] == 0 })
	if got := e.versionsRunning(); got["v1"] != rollingReplicas {
		t.Errorf("instances running %v, want %d of v1", got, rollingReplicas)
	}
	if h := e.history()[0]; h.Outcome != store.OutcomeRolledBack || !strings.Contains(h.Reason, "did not become healthy") {
		t.Errorf("newest history record %+v, want rolled_back naming the unhealthy instance", h)
	}
	e.stop()
}

// appsRunning counts the instances of version whose shell has read its
// flags and become the sample app.
func (e *env) appsRunning(version string) int {
	n := 0
	for _, p := range e.instances() {
		if p.version != version {
			continue
		}
		// Until the shell wrapper has read the flags file and exec'd the
		// app, argv[0] is the shell (whose script also names sample-app).
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.pid))
		argv := strings.Split(string(cmdline), "\x00")
		if err == nil && len(argv) > 1 && argv[0] != "/bin/sh" && argv[1] == "sample-app" {
			n++
		}
	}
	return n
}

// TestKill9DuringRolling: cutover is killed while the rollout has taken an
// old instance out and is gating the first new ones; the restart removes
// every new instance and restores the old version to full strength.
func TestKill9DuringRolling(t *testing.T) {
	e := newRollingEnv(t, rollingReplicas+2, 1, 1)
	e.start()
	e.mustCLI("deploy", "shop", "v1")
	e.flags("v2", "--start-delay 30s")
	e.mustCLI("deploy", "shop", "v2", "--detach")
	waitFor(t, "a v2 instance to be started", 15*time.Second, func() bool { return e.versionsRunning()["v2"] >= 1 })
	e.kill9()
	e.start()
	waitFor(t, "v1 restored to full strength and v2 gone", 60*time.Second, func() bool {
		st := e.status()
		return e.versionsRunning()["v2"] == 0 && st.Op == nil && st.Active != nil && routedHealthy(st) == rollingReplicas
	})
	st := e.status()
	if st.Active == nil || st.Active.Version != "v1" || routedHealthy(st) != rollingReplicas || st.Candidate != nil {
		t.Errorf("after restart: active %+v, candidate %+v; want %d healthy v1 instances", st.Active, st.Candidate, rollingReplicas)
	}
	if v := e.version(); v != "v1" {
		t.Errorf("serving %s, want v1", v)
	}
	e.stop()
}
