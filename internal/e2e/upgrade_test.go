package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/loadgen"
)

// upgradable is an env whose cutover serve writes its output to a file, so
// that the processes that take over from it by `cutover upgrade` (its
// children, which inherit that file) can be followed after it exits.
type upgradable struct {
	*env
	logPath string
}

// newUpgradable writes the env's config and starts cutover serve with
// extra arguments, waiting until it serves.
func newUpgradable(t *testing.T, extra string, args ...string) *upgradable {
	t.Helper()
	u := &upgradable{env: newEnv(t, extra)}
	u.logPath = filepath.Join(u.dir, "serve.log")
	f, err := os.Create(u.logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(bin, append([]string{"serve", "-c", u.cfg}, args...)...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	u.serve = cmd
	u.done = make(chan error, 1)
	go func() { u.done <- cmd.Wait() }()
	t.Cleanup(func() {
		// Registered after the env's cleanup, so it runs first: the
		// processes that took over are not the env's serve.
		if pid := u.pidFile(); pid > 0 && (u.serve == nil || pid != u.serve.Process.Pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		if t.Failed() {
			b, _ := os.ReadFile(u.logPath)
			t.Logf("cutover serve log (every process):\n%s", b)
		}
	})
	u.waitLog("cutover serving", 1)
	return u
}

// log returns the output of every cutover serve process so far.
func (u *upgradable) log() string {
	b, _ := os.ReadFile(u.logPath)
	return string(b)
}

// waitLog waits until the output holds msg at least n times.
func (u *upgradable) waitLog(msg string, n int) {
	u.t.Helper()
	waitFor(u.t, fmt.Sprintf("%d× %q in the log", n, msg), 30*time.Second, func() bool {
		return strings.Count(u.log(), msg) >= n
	})
}

// pidFile returns the pid of the process that serves, from the PID file.
func (u *upgradable) pidFile() int {
	b, err := os.ReadFile(filepath.Join(u.dir, "state", "cutover.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// upgradeResult is `cutover upgrade -o json`.
type upgradeResult struct {
	OK       bool   `json:"ok"`
	PID      int    `json:"pid"`
	Previous int    `json:"previous_pid"`
	Binary   string `json:"binary"`
	TookMS   int64  `json:"took_ms"`
}

// upgrade runs cutover upgrade with args and returns its result and exit.
func (u *upgradable) upgrade(args ...string) (upgradeResult, result) {
	u.t.Helper()
	r := u.cli(append([]string{"upgrade", "-o", "json"}, args...)...)
	var res upgradeResult
	if r.code == 0 {
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
			u.t.Fatalf("upgrade output %q: %v", r.stdout, err)
		}
	}
	return res, r
}

// alive reports whether pid is a process that has not exited (zombies
// count as exited).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || !strings.HasPrefix(s[i+1:], " Z")
}

// upgradeReadyProbe asks the ready endpoint over fresh connections until stop is
// closed and counts answers other than 200 (and failures to ask).
type upgradeReadyProbe struct {
	asked, bad atomic.Int64
	mu         sync.Mutex
	reasons    map[string]int
}

func (p *upgradeReadyProbe) run(addr string, stop <-chan struct{}) {
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	for {
		select {
		case <-stop:
			return
		case <-time.After(20 * time.Millisecond):
		}
		p.asked.Add(1)
		resp, err := c.Get("http://" + addr + "/.cutover/ready")
		reason := ""
		if err != nil {
			reason = err.Error()
		} else {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				reason = fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(b)))
			}
		}
		if reason != "" {
			p.bad.Add(1)
			p.mu.Lock()
			if p.reasons == nil {
				p.reasons = map[string]int{}
			}
			p.reasons[reason]++
			p.mu.Unlock()
		}
	}
}

// TestUpgradeUnderLoad: 20 `cutover upgrade` runs while clients send POST
// bodies over keep-alive connections, requests over new connections and
// slow requests, none retried: no request fails or is refused, the ready
// endpoint never says 503, every old process exits, and the app instances
// run on untouched.
func TestUpgradeUnderLoad(t *testing.T) {
	u := newUpgradable(t, "")
	u.mustCLI("deploy", "shop", "v1")
	u.mustCLI("deploy", "shop", "v2")
	before := u.instances()
	l := loadgen.New(loadgen.Options{URL: "http://" + u.http, Workers: 16, SlowEvery: 20, SlowPath: "/slow?ms=300"})
	ctx, cancel := context.WithCancel(context.Background())
	loadDone := make(chan struct{})
	go func() { defer close(loadDone); l.Run(ctx) }()
	probe := &upgradeReadyProbe{}
	stopProbe := make(chan struct{})
	probeDone := make(chan struct{})
	go func() { defer close(probeDone); probe.run(u.http, stopProbe) }()

	const upgrades = 20
	var olds []int
	var took []time.Duration
	for i := range upgrades {
		prev := u.pidFile()
		start := time.Now()
		res, r := u.upgrade()
		if r.code != 0 {
			t.Fatalf("upgrade %d: exit %d\nstdout:\n%s\nstderr:\n%s", i+1, r.code, r.stdout, r.stderr)
		}
		took = append(took, time.Since(start))
		if res.Previous != prev || res.PID == prev || res.PID == 0 || u.pidFile() != res.PID {
			t.Fatalf("upgrade %d: %+v, PID file %d; want a new pid replacing %d", i+1, res, u.pidFile(), prev)
		}
		olds = append(olds, prev)
		// Traffic on the new process before the next upgrade.
		_, _, per, _ := l.Totals()
		n := per["v2"]
		waitFor(t, "requests served after the upgrade", 10*time.Second, func() bool {
			_, _, per, _ := l.Totals()
			return per["v2"] > n+50
		})
	}
	cancel()
	<-loadDone
	close(stopProbe)
	<-probeDone

	total, failed, per, errs := l.Totals()
	t.Logf("%d upgrades under load: %d requests, %d failed, %d refused, per version %v; upgrade took %v", upgrades, total, failed, l.Refused(), per, took)
	t.Logf("ready endpoint: %d asked, %d not 200 %v", probe.asked.Load(), probe.bad.Load(), probe.reasons)
	var drains []string
	for _, line := range strings.Split(u.log(), "\n") {
		if _, d, ok := strings.Cut(line, "drained_in="); ok && strings.Contains(line, "handed over") {
			drains = append(drains, strings.Fields(d)[0])
		}
	}
	t.Logf("old processes drained in %v", drains)
	if failed != 0 || l.Refused() != 0 {
		t.Errorf("%d failed and %d refused of %d requests: %v", failed, l.Refused(), total, errs)
	}
	if probe.bad.Load() != 0 {
		t.Errorf("the ready endpoint answered %d of %d probes with something else than 200: %v", probe.bad.Load(), probe.asked.Load(), probe.reasons)
	}
	waitFor(t, "every old process to exit", 40*time.Second, func() bool {
		for _, pid := range olds {
			if alive(pid) {
				return false
			}
		}
		return true
	})
	after := u.instances()
	if len(after) != len(before) {
		t.Fatalf("instances %v after the upgrades, want %v untouched", after, before)
	}
	for i := range before {
		if after[i] != before[i] {
			t.Errorf("instances %v after the upgrades, want %v untouched", after, before)
			break
		}
	}
	// The last process is a full cutover: it deploys.
	u.mustCLI("deploy", "shop", "v3")
	if v := u.version(); v != "v3" {
		t.Errorf("serving %s after a deploy on the upgraded process, want v3", v)
	}
}

// writeScript writes an executable shell script.
func writeScript(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestUpgradeFailuresKeepServing: upgrades to a binary that exits at
// start, to one that never becomes ready, and to cutover with a config
// that no longer loads fail with the reason (exit 1); the old process
// serves on under load without a failed request and takes its control
// plane back (a deploy and a good upgrade then work).
func TestUpgradeFailuresKeepServing(t *testing.T) {
	u := newUpgradable(t, "", "--upgrade-timeout", "2s")
	u.mustCLI("deploy", "shop", "v1")
	pid := u.pidFile()
	exits := filepath.Join(u.dir, "exits")
	writeScript(t, exits, `echo "broken build" >&2; exit 3`)
	hangs := filepath.Join(u.dir, "hangs")
	writeScript(t, hangs, `exec sleep 3600`)

	l := loadgen.New(loadgen.Options{URL: "http://" + u.http, Workers: 8})
	ctx, cancel := context.WithCancel(context.Background())
	loadDone := make(chan struct{})
	go func() { defer close(loadDone); l.Run(ctx) }()
	probe := &upgradeReadyProbe{}
	stopProbe := make(chan struct{})
	probeDone := make(chan struct{})
	go func() { defer close(probeDone); probe.run(u.http, stopProbe) }()

	for _, tc := range []struct {
		name   string
		args   []string
		before func()
		after  func()
		want   []string
	}{
		{name: "exits at start", args: []string{"--binary", exits}, want: []string{"exited", "exit status 3"}},
		{name: "never ready", args: []string{"--binary", hangs}, want: []string{"not ready within 2s", "killed"}},
		{name: "config no longer loads", args: nil,
			before: func() { u.rewrite("    stop_grace: 3s\n", "    stop_grace: 3s\n    stop_grase: 1s\n") },
			after:  func() { u.rewrite("    stop_grase: 1s\n", "") },
			want:   []string{"exited", "stop_grase"}},
	} {
		if tc.before != nil {
			tc.before()
		}
		_, r := u.upgrade(tc.args...)
		if tc.after != nil {
			tc.after()
		}
		if r.code != exitFailed {
			t.Errorf("%s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", tc.name, r.code, exitFailed, r.stdout, r.stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("%s: stderr %q does not say %q", tc.name, r.stderr, w)
			}
		}
		if got := u.pidFile(); got != pid || !alive(pid) {
			t.Fatalf("%s: serving pid %d (alive %v), want %d serving on", tc.name, got, alive(pid), pid)
		}
		// The old process has its control plane back.
		if st := u.status(); st.Active == nil || st.Active.Version != "v1" {
			t.Errorf("%s: status after the failed upgrade %+v", tc.name, st)
		}
	}
	// A deploy turns the ready endpoint 503 for the moment between the
	// fleet's commit and the switch (fencing): the probe covers the
	// upgrades only.
	close(stopProbe)
	<-probeDone
	u.mustCLI("deploy", "shop", "v2")
	res, r := u.upgrade()
	if r.code != 0 || res.PID == pid {
		t.Fatalf("a good upgrade after the failed ones: exit %d %+v\n%s", r.code, res, r.stderr)
	}
	cancel()
	<-loadDone
	total, failed, _, errs := l.Totals()
	t.Logf("%d requests, %d failed, %d refused; ready endpoint: %d asked, %d not 200 %v", total, failed, l.Refused(),
		probe.asked.Load(), probe.bad.Load(), probe.reasons)
	if failed != 0 {
		t.Errorf("%d of %d requests failed: %v", failed, total, errs)
	}
	if probe.bad.Load() != 0 {
		t.Errorf("the ready endpoint answered %d probes with something else than 200: %v", probe.bad.Load(), probe.reasons)
	}
	if v := u.version(); v != "v2" {
		t.Errorf("serving %s, want v2", v)
	}
}
