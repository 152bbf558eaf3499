// Package e2e tests the built cutover binary end to end: real processes,
// real sockets, real load.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/dockertest"
	"github.com/cutover-dev/cutover/internal/testutil"
)

// bin is the cutover binary built once for all tests.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cutover-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "cutover")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "../../cmd/cutover")...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build cutover:", err)
		os.Exit(1)
	}
	code := dockertest.Main(m) // runs the tests, then removes this run's Docker images and containers
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is one cutover installation: a config, a state dir, a running serve.
type env struct {
	t     *testing.T
	dir   string
	mark  string // in every app instance's environment, to find them
	http  string // proxy address
	sock  string
	ports [2]int
	cfg   string
	serve *exec.Cmd
	logs  *testutil.SyncBuffer
	// stdout is serve's standard output (also copied to logs).
	stdout *testutil.SyncBuffer
	done   chan error
	// extraEnv is added to cutover serve's environment (app instances
	// inherit it).
	extraEnv []string
	// serveBin, if set, is the binary cutover serve runs from (default bin).
	serveBin string
}

// newEnv writes a config for service "shop" running the sample app. extra
// is appended to the service block (indented by the caller).
func newEnv(t *testing.T, extra string) *env {
	t.Helper()
	dir, err := os.MkdirTemp("", "co-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dir: dir, mark: filepath.Base(dir), sock: filepath.Join(dir, "admin.sock")}
	e.http = fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	e.ports = [2]int{testutil.FreePort(t), testutil.FreePort(t)}
	// The app's flags per version live in flags-<version>, written by the
	// test before a deploy: that is how a test builds a "bad" version.
	script := fmt.Sprintf(`exec %s sample-app --version "$1" --port "$2" $(cat %s/flags-"$1" 2>/dev/null)`, bin, dir)
	e.cfg = filepath.Join(dir, "cutover.yaml")
	y := fmt.Sprintf(`listen:
  http: %q
admin:
  socket: %q
state_dir: %q
access_log: false
services:
  shop:
    runtime: process
    process:
      command: /bin/sh
      args: ["-c", %q, "sh", "{{.Version}}", "{{.Port}}"]
      env:
        E2E_MARK: %q
    ports: [%d, %d]
    health:
      path: /healthz
      interval: 100ms
      timeout: 1s
      healthy_threshold: 2
      unhealthy_threshold: 2
    drain_timeout: 10s
    deploy_timeout: 10s
    standby: 60s
    stop_grace: 3s
%s`, e.http, e.sock, filepath.Join(dir, "state"), script, e.mark, e.ports[0], e.ports[1], extra)
	if err := os.WriteFile(e.cfg, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.cleanup)
	return e
}

func (e *env) flags(version, flags string) {
	e.t.Helper()
	if err := os.WriteFile(filepath.Join(e.dir, "flags-"+version), []byte(flags), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// start runs cutover serve and waits for its "cutover serving" log line.
func (e *env) start() {
	e.t.Helper()
	e.startArgs()
}

// startArgs is start with extra arguments for cutover serve.
func (e *env) startArgs(extra ...string) {
	e.t.Helper()
	ready := e.launch(extra...)
	select {
	case <-ready:
	case err := <-e.done:
		e.t.Fatalf("cutover serve exited early: %v\n%s", err, e.logs)
	case <-time.After(30 * time.Second):
		e.t.Fatalf("cutover serve did not become ready\n%s", e.logs)
	}
}

// launch starts cutover serve with extra arguments and returns at once
// with a channel closed on its "cutover serving" log line.
func (e *env) launch(extra ...string) <-chan struct{} {
	e.t.Helper()
	e.logs, e.stdout = &testutil.SyncBuffer{}, &testutil.SyncBuffer{}
	exe := bin
	if e.serveBin != "" {
		exe = e.serveBin
	}
	cmd := exec.Command(exe, append([]string{"serve", "-c", e.cfg}, extra...)...)
	if len(e.extraEnv) > 0 {
		cmd.Env = append(os.Environ(), e.extraEnv...)
	}
	pr, pw := io.Pipe()
	cmd.Stderr = io.MultiWriter(e.logs, pw)
	cmd.Stdout = io.MultiWriter(e.logs, e.stdout)
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.serve = cmd
	e.done = make(chan error, 1)
	go func() { e.done <- cmd.Wait(); pw.Close() }()
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		signalled := false
		for sc.Scan() {
			if !signalled && strings.Contains(sc.Text(), "cutover serving") {
				close(ready)
				signalled = true
			}
		}
		io.Copy(io.Discard, pr)
	}()
	return ready
}

// kill9 kills cutover serve with SIGKILL (app instances survive).
func (e *env) kill9() {
	e.t.Helper()
	_ = e.serve.Process.Signal(syscall.SIGKILL)
	<-e.done
	e.serve = nil
}

// stop ends cutover serve with SIGTERM and waits for it.
func (e *env) stop() {
	e.t.Helper()
	if e.serve == nil {
		return
	}
	_ = e.serve.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-e.done:
		if err != nil {
			e.t.Errorf("cutover serve exited with %v\n%s", err, e.logs)
		}
	case <-time.After(40 * time.Second):
		_ = e.serve.Process.Kill()
		e.t.Errorf("cutover serve did not exit on SIGTERM")
	}
	e.serve = nil
}

func (e *env) cleanup() {
	if e.serve != nil {
		_ = e.serve.Process.Kill()
		<-e.done
	}
	for _, p := range e.instances() {
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		_ = syscall.Kill(p.pid, syscall.SIGKILL)
	}
	if e.t.Failed() && e.logs != nil {
		e.t.Logf("cutover serve log:\n%s", e.logs)
	}
	os.RemoveAll(e.dir)
}

// result of one CLI run.
type result struct {
	code   int
	stdout string
	stderr string
}

// cli runs the cutover CLI against this env's admin socket.
func (e *env) cli(args ...string) result {
	e.t.Helper()
	return e.runCLI([]string{"CUTOVER_ADMIN=unix://" + e.sock}, args...)
}

// cmdWithoutAdmin runs the CLI without telling it the admin address.
func (e *env) cmdWithoutAdmin(args ...string) result {
	e.t.Helper()
	return e.runCLI(nil, args...)
}

// runCLI runs the CLI with env added to the environment.
func (e *env) runCLI(env []string, args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("run cutover %v: %v", args, err)
	}
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// mustCLI runs the CLI and fails the test unless it exits 0.
func (e *env) mustCLI(args ...string) result {
	e.t.Helper()
	r := e.cli(args...)
	if r.code != 0 {
		e.t.Fatalf("cutover %v: exit %d\nstdout:\n%s\nstderr:\n%s", args, r.code, r.stdout, r.stderr)
	}
	return r
}

// version asks the proxy which version serves, over a fresh connection.
func (e *env) version() string {
	e.t.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := c.Post("http://"+e.http+"/which", "text/plain", strings.NewReader("x"))
	if err != nil {
		e.t.Fatalf("request through proxy: %v", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 {
		e.t.Fatalf("request through proxy: status %d", resp.StatusCode)
	}
	return resp.Header.Get("X-Version")
}

type proc struct {
	pid     int
	version string
}

// instances lists live app processes of this env (by E2E_MARK in their environment).
func (e *env) instances() []proc {
	ents, _ := os.ReadDir("/proc")
	var out []proc
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "environ"))
		if err != nil || !bytes.Contains(b, []byte("E2E_MARK="+e.mark+"\x00")) {
			continue
		}
		if stat, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "stat")); err == nil {
			s := string(stat)
			if i := strings.LastIndexByte(s, ')'); i > 0 && strings.HasPrefix(s[i+1:], " Z") {
				continue // zombie: exited, not yet reaped
			}
		}
		p := proc{pid: pid}
		for _, kv := range bytes.Split(b, []byte{0}) {
			if v, ok := bytes.CutPrefix(kv, []byte("CUTOVER_VERSION=")); ok {
				p.version = string(v)
			}
		}
		out = append(out, p)
	}
	return out
}

// versionsRunning returns how many live instances each version has.
func (e *env) versionsRunning() map[string]int {
	m := map[string]int{}
	for _, p := range e.instances() {
		m[p.version]++
	}
	return m
}

// waitFor polls cond until it holds or the deadline passes; it is used only
// where the condition is another process's state, which sends no event.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
