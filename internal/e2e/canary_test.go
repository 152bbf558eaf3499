package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/deploy"
	"github.com/cutover-dev/cutover/internal/store"
)

// appBinary is a cutover binary built without the race detector, to run
// the sample app in tests that compare latencies: under the race detector
// a process serving a tenth of the traffic of another answers with a p99
// several times the busy one's on a loaded machine (measured: 17ms vs 6ms;
// 5ms vs 3ms without it), so an A/A canary would measure the detector.
// cutover itself, the code under test, keeps running with the detector.
var appBinary = sync.OnceValues(func() (string, error) {
	if !raceEnabled {
		return bin, nil
	}
	out := filepath.Join(filepath.Dir(bin), "cutover-app")
	cmd := exec.Command("go", "build", "-o", out, "../../cmd/cutover")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the sample app without -race: %v\n%s", err, b)
	}
	return out, nil
})

// useAppBinary makes the env run its sample app from appBinary.
func (e *env) useAppBinary() {
	e.t.Helper()
	app, err := appBinary()
	if err != nil {
		e.t.Fatal(err)
	}
	cfg, err := os.ReadFile(e.cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	from := fmt.Sprintf("exec %s sample-app", bin)
	if !bytes.Contains(cfg, []byte(from)) {
		e.t.Fatalf("config does not run %q:\n%s", from, cfg)
	}
	cfg = bytes.ReplaceAll(cfg, []byte(from), []byte(fmt.Sprintf("exec %s sample-app", app)))
	if err := os.WriteFile(e.cfg, cfg, 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// canaryConfig is the service block of the canary tests: short steps, and
// enough requests per version that a verdict comes within seconds.
func canaryConfig(extra string) string {
	return `    strategy: canary
    canary:
      steps: [10, 50]
      step_duration: 1s
` + extra
}

// versionLoad sends POSTs over keep-alive connections (never retried by
// Go's client) without cookies, so every request is assigned to a version
// afresh, and counts answers per X-Version: a request fails on a transport
// error or a non-2xx status.
type versionLoad struct {
	url     string
	workers int
	pause   time.Duration

	mu        sync.Mutex
	ok        map[string]int64
	failed    map[string]int64
	transport []string
}

func newVersionLoad(url string, workers int, pause time.Duration) *versionLoad {
	return &versionLoad{url: url, workers: workers, pause: pause, ok: map[string]int64{}, failed: map[string]int64{}}
}

// start sends traffic until the returned stop function is called; stop
// waits for every worker.
func (l *versionLoad) start() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range l.workers {
		wg.Go(func() { l.worker(ctx, i) })
	}
	return func() { cancel(); wg.Wait() }
}

func (l *versionLoad) worker(ctx context.Context, id int) {
	tr := &http.Transport{DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext, MaxIdleConnsPerHost: 1}
	c := &http.Client{Transport: tr, Timeout: 15 * time.Second}
	defer tr.CloseIdleConnections()
	for n := 0; ctx.Err() == nil; n++ {
		resp, err := c.Post(fmt.Sprintf("%s/w%d/%d", l.url, id, n), "text/plain", strings.NewReader("payload"))
		l.mu.Lock()
		switch {
		case err != nil:
			if len(l.transport) < 10 {
				l.transport = append(l.transport, err.Error())
			}
		default:
			v := resp.Header.Get("X-Version")
			if resp.StatusCode/100 == 2 {
				l.ok[v]++
			} else {
				l.failed[v]++
			}
		}
		l.mu.Unlock()
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if l.pause > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(l.pause):
			}
		}
	}
}

// totals returns successes and failures per version and transport errors.
func (l *versionLoad) totals() (ok, failed map[string]int64, transport []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ok, failed = map[string]int64{}, map[string]int64{}
	for k, v := range l.ok {
		ok[k] = v
	}
	for k, v := range l.failed {
		failed[k] = v
	}
	return ok, failed, append([]string(nil), l.transport...)
}

// status returns `cutover status shop -o json`.
func (e *env) status() deploy.ServiceStatus {
	e.t.Helper()
	r := e.mustCLI("status", "shop", "-o", "json")
	var st deploy.ServiceStatus
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		e.t.Fatalf("status json: %v\n%s", err, r.stdout)
	}
	return st
}

// history returns the service's history, newest first.
func (e *env) history() []store.HistoryRecord {
	e.t.Helper()
	var hist []store.HistoryRecord
	r := e.mustCLI("history", "shop", "-o", "json")
	if err := json.Unmarshal([]byte(r.stdout), &hist); err != nil {
		e.t.Fatalf("history json: %v\n%s", err, r.stdout)
	}
	if len(hist) == 0 {
		e.t.Fatalf("history is empty")
	}
	return hist
}

// cliAsync runs the CLI in the background; the result arrives on the channel.
func (e *env) cliAsync(args ...string) <-chan result {
	ch := make(chan result, 1)
	go func() {
		// e.cli may call t.Fatalf, which must run on the test goroutine:
		// report a failure to run as exit code -1 instead.
		ch <- e.cliNoFatal(args...)
	}()
	return ch
}

// cliNoFatal is cli for background goroutines: a CLI that cannot be run
// is reported as exit code -1 with the error on stderr.
func (e *env) cliNoFatal(args ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "CUTOVER_ADMIN=unix://"+e.sock)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return result{code: ee.ExitCode(), stdout: out.String(), stderr: errb.String()}
	case err != nil:
		return result{code: -1, stdout: out.String(), stderr: errb.String() + err.Error()}
	}
	return result{stdout: out.String(), stderr: errb.String()}
}

// waitStatus polls status until cond holds (status is another process's
// state and sends no event).
func (e *env) waitStatus(what string, d time.Duration, cond func(deploy.ServiceStatus) bool) deploy.ServiceStatus {
	e.t.Helper()
	var last deploy.ServiceStatus
	waitFor(e.t, what, d, func() bool {
		last = e.status()
		return cond(last)
	})
	return last
}

func inCanary(st deploy.ServiceStatus) bool {
	return st.Op != nil && st.Op.Phase == store.PhaseCanary && st.Candidate != nil && st.Canary != nil
}

// TestCanaryAAIsPromoted: the same app under two version labels passes the
// analysis at every step under load and is promoted; no request fails and
// status shows the live comparison while the canary runs.
func TestCanaryAAIsPromoted(t *testing.T) {
	e := newEnv(t, canaryConfig("      min_requests: 200\n"))
	e.useAppBinary()
	e.start()
	e.mustCLI("deploy", "shop", "v1", "--strategy", "switch")
	// Paced clients leave the CPUs some idle time: on saturated CPUs a
	// process serving a tenth of the traffic wakes up late more often than
	// the busy one, which shows in its p99.
	l := newVersionLoad("http://"+e.http, 8, time.Millisecond)
	stop := l.start()
	deploying := e.cliAsync("deploy", "shop", "v1b")
	st := e.waitStatus("the canary to run", 30*time.Second, inCanary)
	if st.Op.Step < 1 || st.Weight <= 0 {
		t.Errorf("canary status: step %d weight %v, want step ≥ 1 and a weight", st.Op.Step, st.Weight)
	}
	for _, v := range []string{"v1", "v1b"} {
		if _, ok := st.Canary.Summary[v]["requests"]; !ok {
			t.Errorf("canary comparison lacks %s: %v", v, st.Canary.Summary)
		}
	}
	r := <-deploying
	stop()
	t.Logf("deploy output:\n%s", r.stdout)
	if r.code != exitOK {
		t.Fatalf("exit %d, want %d (promoted)\nstdout:\n%s\nstderr:\n%s", r.code, exitOK, r.stdout, r.stderr)
	}
	ok, failed, transport := l.totals()
	t.Logf("served %v, failed %v, transport errors %v", ok, failed, transport)
	if len(failed) != 0 || len(transport) != 0 {
		t.Errorf("requests failed during an A/A canary: %v %v", failed, transport)
	}
	if ok["v1b"] == 0 || ok["v1"] == 0 {
		t.Errorf("traffic per version %v: both should have served", ok)
	}
	for _, want := range []string{"step 1/3: 10%", "step 2/3: 50%", "step 3/3: 100%", "passed", "promoted"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("deploy output lacks %q:\n%s", want, r.stdout)
		}
	}
	if v := e.version(); v != "v1b" {
		t.Errorf("serving %s after promotion, want v1b", v)
	}
	after := e.status()
	if after.Standby == nil || after.Standby.Version != "v1" {
		t.Errorf("standby after promotion is %+v, want v1 warm", after.Standby)
	}
	if h := e.history()[0]; h.Outcome != store.OutcomeDeployed || h.Strategy != "canary" {
		t.Errorf("newest history record %+v, want a deployed canary", h)
	}
	e.stop()
}

// TestCanaryWithErrorsIsRolledBack: a canary failing 5% of requests (the
// baseline none) at 10% of traffic is rolled back (exit 3); the only failed
// requests users saw came from the canary, and the reason in history has
// the numbers.
func TestCanaryWithErrorsIsRolledBack(t *testing.T) {
	e := newEnv(t, canaryConfig("      min_requests: 100\n"))
	e.start()
	e.mustCLI("deploy", "shop", "v1", "--strategy", "switch")
	e.flags("v2", "--error-rate 0.05")
	l := newVersionLoad("http://"+e.http, 8, 0)
	stop := l.start()
	r := e.cli("deploy", "shop", "v2")
	stop()
	if r.code != exitRolledBack {
		t.Fatalf("exit %d, want %d (rolled back)\nstdout:\n%s\nstderr:\n%s", r.code, exitRolledBack, r.stdout, r.stderr)
	}
	ok, failed, transport := l.totals()
	t.Logf("served %v, failed %v, transport errors %v", ok, failed, transport)
	if len(transport) != 0 {
		t.Errorf("transport errors: %v", transport)
	}
	for v, n := range failed {
		if v != "v2" {
			t.Errorf("%d failed requests carry version %q: only the canary may fail", n, v)
		}
	}
	v2 := ok["v2"] + failed["v2"]
	if failed["v2"] == 0 || v2 == 0 {
		t.Fatalf("the canary served %d requests, %d failed: it was judged without its errors", v2, failed["v2"])
	}
	if rate := float64(failed["v2"]) / float64(v2); rate < 0.03 || rate > 0.08 {
		t.Errorf("canary error rate seen by users %.3f, want about 0.05", rate)
	}
	if share := float64(v2) / float64(v2+ok["v1"]); share > 0.2 {
		t.Errorf("canary share %.2f of traffic, want about 0.10: it went past the first step", share)
	}
	if strings.Contains(r.stdout, "step 2/3") {
		t.Errorf("canary reached step 2:\n%s", r.stdout)
	}
	if v := e.version(); v != "v1" {
		t.Errorf("serving %s after the rollback, want v1", v)
	}
	waitFor(t, "the canary's instance to be gone", 10*time.Second, func() bool { return e.versionsRunning()["v2"] == 0 })
	h := e.history()[0]
	if h.Outcome != store.OutcomeRolledBack || !strings.Contains(h.Reason, "error rate") || !strings.Contains(h.Reason, "%") {
		t.Errorf("newest history record %+v, want rolled_back with the error rates in the reason", h)
	}
	if st := e.status(); st.Candidate != nil || st.Op != nil || st.Active == nil || st.Active.Version != "v1" {
		t.Errorf("status after rollback: %+v, want v1 active and nothing in progress", st)
	}
	e.stop()
}

// TestCanaryLatency: a canary 200ms slower than its baseline is rolled
// back; one 2ms slower is within the default tolerance and promoted.
//
// Every version waits a little before it answers, as real apps do, and
// the canary takes half of the traffic: on a busy machine a process that
// sleeps, or idles between requests, waits for a CPU when it wakes, which
// adds milliseconds to its p99. A baseline that never sleeps, or a canary
// serving a tenth of the traffic of its baseline, would measure the
// machine rather than the version (seen at 10%: a 2ms slower canary's p99
// 8ms above its baseline's with the race detector on).
func TestCanaryLatency(t *testing.T) {
	e := newEnv(t, `    strategy: canary
    canary:
      steps: [50]
      step_duration: 1s
      min_requests: 100
`)
	e.useAppBinary()
	e.start()
	e.flags("v1", "--latency 5ms")
	e.mustCLI("deploy", "shop", "v1", "--strategy", "switch")
	e.flags("v2", "--latency 205ms")
	e.flags("v3", "--latency 7ms")
	l := newVersionLoad("http://"+e.http, 8, time.Millisecond)
	stop := l.start()
	defer stop()

	slow := e.cli("deploy", "shop", "v2")
	if slow.code != exitRolledBack {
		t.Fatalf("200ms slower: exit %d, want %d (rolled back)\nstdout:\n%s\nstderr:\n%s", slow.code, exitRolledBack, slow.stdout, slow.stderr)
	}
	if h := e.history()[0]; !strings.Contains(h.Reason, "canary p") || !strings.Contains(h.Reason, "ms vs baseline") {
		t.Errorf("rollback reason %q does not name the latency and its numbers", h.Reason)
	}
	if v := e.version(); v != "v1" {
		t.Errorf("serving %s after the rollback, want v1", v)
	}

	fast := e.cli("deploy", "shop", "v3")
	t.Logf("2ms slower canary:\n%s", fast.stdout)
	if fast.code != exitOK {
		t.Fatalf("2ms slower: exit %d, want %d (promoted)\nstdout:\n%s\nstderr:\n%s", fast.code, exitOK, fast.stdout, fast.stderr)
	}
	if v := e.version(); v != "v3" {
		t.Errorf("serving %s after promotion, want v3", v)
	}
	stop()
	ok, failed, transport := l.totals()
	t.Logf("served %v, failed %v, transport errors %v", ok, failed, transport)
	if len(failed) != 0 || len(transport) != 0 {
		t.Errorf("requests failed: %v %v", failed, transport)
	}
	e.stop()
}

// TestCanaryLowTraffic: at about one request per second the analysis waits
// instead of deciding; after max_step_duration the canary pauses or fails
// as on_insufficient_data says.
func TestCanaryLowTraffic(t *testing.T) {
	const cfg = "      min_requests: 50\n      max_step_duration: 3s\n      on_insufficient_data: %s\n"
	t.Run("fail", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, canaryConfig(fmt.Sprintf(cfg, "fail")))
		e.start()
		e.mustCLI("deploy", "shop", "v1", "--strategy", "switch")
		stop := newVersionLoad("http://"+e.http, 1, time.Second).start()
		defer stop()
		start := time.Now()
		r := e.cli("deploy", "shop", "v2")
		took := time.Since(start)
		if r.code != exitRolledBack {
			t.Fatalf("exit %d, want %d (rolled back)\nstdout:\n%s\nstderr:\n%s", r.code, exitRolledBack, r.stdout, r.stderr)
		}
		if took < 3*time.Second {
			t.Errorf("the canary failed after %s, before max_step_duration (3s)", took)
		}
		if !strings.Contains(r.stdout, "wait: waiting for data") {
			t.Errorf("deploy output does not show the analysis waiting:\n%s", r.stdout)
		}
		if h := e.history()[0]; h.Outcome != store.OutcomeRolledBack || !strings.Contains(h.Reason, "not enough data") {
			t.Errorf("newest history record %+v, want rolled_back for not enough data", h)
		}
		waitFor(t, "the canary's instance to be gone", 10*time.Second, func() bool { return e.versionsRunning()["v2"] == 0 })
		e.stop()
	})
	t.Run("pause", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, canaryConfig(fmt.Sprintf(cfg, "pause")))
		e.start()
		e.mustCLI("deploy", "shop", "v1", "--strategy", "switch")
		stop := newVersionLoad("http://"+e.http, 1, time.Second).start()
		defer stop()
		deploying := e.cliAsync("deploy", "shop", "v2")
		st := e.waitStatus("the canary to wait for data", 30*time.Second, func(st deploy.ServiceStatus) bool {
			return inCanary(st) && st.Canary.Verdict == "wait"
		})
		if st.Op.Paused {
			t.Errorf("canary paused before max_step_duration: %+v", st.Op)
		}
		st = e.waitStatus("the canary to pause for lack of data", 30*time.Second, func(st deploy.ServiceStatus) bool {
			return inCanary(st) && st.Op.Paused
		})
		if st.Canary.Verdict != "wait" || st.Weight != 10 || st.Op.Step != 1 {
			t.Errorf("paused canary: verdict %s, weight %v, step %d; want wait at 10%%, step 1", st.Canary.Verdict, st.Weight, st.Op.Step)
		}
		text := e.mustCLI("status", "shop").stdout
		for _, want := range []string{"v2 @ 10% (paused)", "deploy v2: canary step 1, paused", "shop canary v2 vs v1: wait",
			"waiting for data", "VERSION  REQUESTS  ERROR RATE"} {
			if !strings.Contains(text, want) {
				t.Errorf("status lacks %q:\n%s", want, text)
			}
		}
		e.mustCLI("abort", "shop")
		r := <-deploying
		if r.code != exitAborted {
			t.Fatalf("exit %d, want %d (aborted)\nstdout:\n%s\nstderr:\n%s", r.code, exitAborted, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stdout, "not enough data") {
			t.Errorf("deploy output does not say why the canary paused:\n%s", r.stdout)
		}
		if v := e.version(); v != "v1" {
			t.Errorf("serving %s after abort, want v1", v)
		}
		waitFor(t, "the canary's instance to be gone", 10*time.Second, func() bool { return e.versionsRunning()["v2"] == 0 })
		e.stop()
	})
}

// TestCanaryManualControl: testers reach the canary with the force header
// or cookie, users stay on one version, and set-weight, pause, resume and
// promote act on the running canary.
func TestCanaryManualControl(t *testing.T) {
	e := newEnv(t, `    strategy: canary
    canary:
      steps: [10, 50]
      step_duration: 1h
      max_step_duration: 2h
`)
	e.start()
	e.mustCLI("deploy", "shop", "v1", "--strategy", "switch")
	deploying := e.cliAsync("deploy", "shop", "v2")
	e.waitStatus("the canary to run", 30*time.Second, inCanary)

	if got := e.request(map[string]string{"X-Cutover-Version": "v2"}, nil); got != "v2" {
		t.Errorf("forced by header: served %s, want v2", got)
	}
	if got := e.request(nil, &http.Cookie{Name: "cutover_version", Value: "v2"}); got != "v2" {
		t.Errorf("forced by cookie: served %s, want v2", got)
	}

	e.mustCLI("set-weight", "shop", "50")
	st := e.status()
	if st.Weight != 50 || !st.Op.Paused {
		t.Errorf("after set-weight 50: weight %v, paused %v", st.Weight, st.Op.Paused)
	}
	seen := map[string]int{}
	for range 20 {
		seen[e.stickyUser(8)]++
	}
	if seen["v1"] == 0 || seen["v2"] == 0 || seen["mixed"] != 0 {
		t.Errorf("20 users with cookies at 50%%: %v; want each user on one version and both versions used", seen)
	}
	e.mustCLI("resume", "shop")
	if st := e.status(); st.Op.Paused {
		t.Errorf("still paused after resume: %+v", st.Op)
	}
	e.mustCLI("pause", "shop")
	if st := e.status(); !st.Op.Paused || st.Weight != 50 {
		t.Errorf("after pause: %+v, weight %v; want paused at 50%%", st.Op, st.Weight)
	}
	e.mustCLI("promote", "shop")
	r := <-deploying
	if r.code != exitOK {
		t.Fatalf("exit %d, want %d (promoted)\nstdout:\n%s\nstderr:\n%s", r.code, exitOK, r.stdout, r.stderr)
	}
	if v := e.version(); v != "v2" {
		t.Errorf("serving %s after promote, want v2", v)
	}
	if r := e.cli("pause", "shop"); r.code == exitOK {
		t.Errorf("pause with no canary running succeeded:\n%s", r.stdout)
	}
	e.stop()
}

// request sends one POST through the proxy with the given headers and
// cookie and returns the version that answered.
func (e *env) request(headers map[string]string, cookie *http.Cookie) string {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+e.http+"/which", strings.NewReader("x"))
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("request through proxy: %v", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("request through proxy: status %d", resp.StatusCode)
	}
	return resp.Header.Get("X-Version")
}

// stickyUser sends n requests as one user with a cookie jar and returns
// the version that served all of them, or "mixed".
func (e *env) stickyUser(n int) string {
	e.t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	version := ""
	for range n {
		resp, err := c.Post("http://"+e.http+"/which", "text/plain", strings.NewReader("x"))
		if err != nil {
			e.t.Fatalf("request through proxy: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		v := resp.Header.Get("X-Version")
		if version != "" && v != version {
			return "mixed"
		}
		version = v
	}
	return version
}
