package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cutover-dev/cutover/internal/api"
)

// service is the name of the benchmarked service in the generated config.
const service = "shop"

// server is one running `cutover serve` with its own config, state
// directory, admin socket and proxy listener. Its methods are not safe for
// concurrent use.
type server struct {
	cmd   *exec.Cmd
	done  chan error
	dir   string
	mark  string // in every app instance's environment, to find leftovers
	proxy string // proxy listen address, host:port
	api   *api.Client
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// writeConfig writes a config for one process service running the sample
// app from bin on a pair of ports, health-gated on /healthz every 100 ms.
func writeConfig(path, bin, stateDir, sock, proxy, mark string, ports [2]int) error {
	y := fmt.Sprintf(`listen:
  http: %q
admin:
  socket: %q
state_dir: %q
access_log: false
services:
  %s:
    runtime: process
    process:
      command: %q
      args: ["sample-app", "--version", "{{.Version}}", "--port", "{{.Port}}"]
      env:
        BENCH_MARK: %q
    ports: [%d, %d]
    health:
      path: /healthz
      interval: 100ms
      timeout: 1s
      healthy_threshold: 2
      unhealthy_threshold: 2
    drain_timeout: 10s
    deploy_timeout: 30s
    standby: 10m
    stop_grace: 3s
`, proxy, sock, stateDir, service, bin, mark, ports[0], ports[1])
	return os.WriteFile(path, []byte(y), 0o600)
}

// startServer starts `bin serve` in a fresh directory under work and waits
// until its admin API answers.
func startServer(ctx context.Context, bin, work string) (*server, error) {
	dir, err := os.MkdirTemp(work, "serve-")
	if err != nil {
		return nil, err
	}
	var ports [3]int
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			return nil, err
		}
	}
	s := &server{dir: dir, mark: filepath.Base(dir), proxy: fmt.Sprintf("127.0.0.1:%d", ports[0])}
	sock := filepath.Join(dir, "admin.sock")
	cfg := filepath.Join(dir, "cutover.yaml")
	if err := writeConfig(cfg, bin, filepath.Join(dir, "state"), sock, s.proxy, s.mark, [2]int{ports[1], ports[2]}); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child holds its own descriptor
	s.cmd = exec.Command(bin, "serve", "-c", cfg)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start cutover serve: %w", err)
	}
	s.done = make(chan error, 1)
	go func() { s.done <- s.cmd.Wait() }()
	if s.api, err = api.NewClient("unix://"+sock, ""); err != nil {
		s.stop()
		return nil, err
	}
	// The serve process sends no readiness event to a parent; poll its API.
	deadline := time.Now().Add(30 * time.Second)
	for {
		hctx, cancel := context.WithTimeout(ctx, time.Second)
		err := s.api.Health(hctx)
		cancel()
		if err == nil {
			return s, nil
		}
		select {
		case werr := <-s.done:
			s.done <- werr
			s.stop()
			return nil, fmt.Errorf("cutover serve exited early (%v); see %s", werr, logf.Name())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("cutover serve not ready after 30s: %w", err)
		}
	}
}

// pid returns the serve process id.
func (s *server) pid() int { return s.cmd.Process.Pid }

// stop ends serve with SIGTERM (SIGKILL after 40 s) and kills any app
// instance it left behind. It returns serve's exit error, if any.
func (s *server) stop() error {
	if s.api != nil {
		s.api.Close()
	}
	var err error
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err = <-s.done:
	case <-time.After(40 * time.Second):
		_ = s.cmd.Process.Kill()
		err = errors.Join(errors.New("cutover serve ignored SIGTERM for 40s"), <-s.done)
	}
	for _, pid := range markedPIDs(s.mark) {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	return err
}

// markedPIDs lists live processes whose environment holds BENCH_MARK=mark.
func markedPIDs(mark string) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	want := "BENCH_MARK=" + mark + "\x00"
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "environ"))
		if err == nil && strings.Contains(string(b), want) {
			out = append(out, pid)
		}
	}
	return out
}
