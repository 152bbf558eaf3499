package e2e

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/loadgen"
)

// launcher is what systemd does with a cutover.socket unit: it holds the
// listening socket and starts cutover serve with it (LISTEN_FDS,
// LISTEN_FDNAMES, LISTEN_PID), so that connections queue on the socket
// while cutover restarts.
type launcher struct {
	t       *testing.T
	e       *env
	sock    *os.File // the listening socket, held across restarts
	logPath string
	cmd     *exec.Cmd
	done    chan error
	starts  int
}

// newLauncher binds the env's public address and returns a launcher
// holding it.
func newLauncher(t *testing.T, e *env) *launcher {
	t.Helper()
	ln, err := net.Listen("tcp", e.http)
	if err != nil {
		t.Fatal(err)
	}
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	ln.Close() // f keeps the socket open and listening
	l := &launcher{t: t, e: e, sock: f, logPath: filepath.Join(e.dir, "serve.log")}
	t.Cleanup(func() {
		if l.cmd != nil {
			_ = l.cmd.Process.Kill()
			<-l.done
		}
		f.Close()
		if t.Failed() {
			b, _ := os.ReadFile(l.logPath)
			t.Logf("cutover serve log:\n%s", b)
		}
	})
	return l
}

// start starts cutover serve with the socket as fd 3 and waits until it
// serves.
func (l *launcher) start() {
	l.t.Helper()
	out, err := os.OpenFile(l.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		l.t.Fatal(err)
	}
	defer out.Close()
	// LISTEN_PID must name the process that reads it: set it after the
	// fork, as systemd does, with a shell that execs cutover.
	cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$ exec "$0" "$@"`, bin, "serve", "-c", l.e.cfg)
	cmd.ExtraFiles = []*os.File{l.sock}
	cmd.Env = append(os.Environ(), "LISTEN_FDS=1", "LISTEN_FDNAMES=http")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		l.t.Fatal(err)
	}
	l.cmd, l.done = cmd, make(chan error, 1)
	go func() { l.done <- cmd.Wait() }()
	l.starts++
	waitFor(l.t, "cutover serve to serve", 30*time.Second, func() bool {
		b, _ := os.ReadFile(l.logPath)
		return strings.Count(string(b), "cutover serving") >= l.starts
	})
}

// stop stops cutover serve with SIGTERM, as systemctl stop does, and waits
// for it to exit.
func (l *launcher) stop() {
	l.t.Helper()
	_ = l.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-l.done:
		if err != nil {
			l.t.Fatalf("cutover serve exited with %v after SIGTERM", err)
		}
	case <-time.After(40 * time.Second):
		l.t.Fatal("cutover serve did not exit after SIGTERM")
	}
	l.cmd = nil
}

// TestSocketActivationRestarts: cutover serve takes its public listener
// from the launcher (systemd socket activation) and is restarted 10 times
// (stop, then start, as systemctl restart does) under load: no request is
// refused or fails; requests sent while no cutover runs wait in the
// socket's queue.
func TestSocketActivationRestarts(t *testing.T) {
	e := newEnv(t, "")
	l := newLauncher(t, e)
	l.start()
	if !strings.Contains(readFile(t, l.logPath), "socket from systemd") {
		t.Fatalf("cutover serve did not take the socket from the launcher")
	}
	e.mustCLI("deploy", "shop", "v1")
	before := e.instances()
	load := loadgen.New(loadgen.Options{URL: "http://" + e.http, Workers: 16, SlowEvery: 20, SlowPath: "/slow?ms=300"})
	ctx, cancel := context.WithCancel(context.Background())
	loadDone := make(chan struct{})
	go func() { defer close(loadDone); load.Run(ctx) }()
	var gaps []time.Duration
	for range 10 {
		_, _, per, _ := load.Totals()
		n := per["v1"]
		waitFor(t, "requests served", 10*time.Second, func() bool {
			_, _, per, _ := load.Totals()
			return per["v1"] > n+50
		})
		l.stop()
		stopped := time.Now()
		l.start()
		gaps = append(gaps, time.Since(stopped))
	}
	cancel()
	<-loadDone
	total, failed, per, errs := load.Totals()
	t.Logf("10 restarts: %d requests, %d failed, %d refused, per version %v; from the exit of one process to the next serving: %v", total, failed, load.Refused(), per, gaps)
	if load.Refused() != 0 || failed != 0 {
		t.Errorf("%d refused, %d failed of %d requests: %v", load.Refused(), failed, total, errs)
	}
	after := e.instances()
	if len(after) != len(before) || len(after) == 0 || after[0] != before[0] {
		t.Errorf("instances %v after the restarts, want %v untouched", after, before)
	}
	l.stop()
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
