package main

import (
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
	"sync"
	"syscall"
	"time"

	"github.com/cutover-dev/cutover/internal/api"
)

// service is the name of the benchmarked service in every host's config.
const service = "shop"

// host is one running `cutover serve` of the fleet: its own config, state
// directory, admin socket, proxy listener and app ports.
type host struct {
	name  string
	dir   string
	proxy string // proxy listen address, host:port
	cmd   *exec.Cmd
	done  chan error
	api   *api.Client
}

// hostConfig is a host's cutover.yaml: one process service running the
// sample app from bin on a pair of ports, health-gated on /healthz every
// 100 ms, on the etcd fleet at endpoint.
func hostConfig(bin, name, dir, proxy, endpoint, prefix, mark string, leaseTTL time.Duration, ports [2]int) string {
	return fmt.Sprintf(`listen:
  http: %q
admin:
  socket: %q
state_dir: %q
access_log: false
cluster:
  backend: etcd
  endpoints: [%q]
  name: %s
  prefix: %q
  lease_ttl: %s
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
`, proxy, filepath.Join(dir, "admin.sock"), filepath.Join(dir, "state"), endpoint, name, prefix, leaseTTL,
		service, bin, mark, ports[0], ports[1])
}

// fleetHosts is n hosts started from one binary against one etcd.
type fleetHosts struct {
	hosts []*host
	mark  string // in every app instance's environment, to find leftovers
}

// startHosts starts n `cutover serve` processes (h1..hn) under work and
// waits until each one's admin API answers.
func startHosts(ctx context.Context, bin, work, endpoint, prefix string, n int, leaseTTL time.Duration) (*fleetHosts, error) {
	f := &fleetHosts{mark: filepath.Base(work) + "-" + strconv.Itoa(os.Getpid())}
	ports, err := freePorts(3 * n)
	if err != nil {
		return f, err
	}
	for i := range n {
		h := &host{name: fmt.Sprintf("h%d", i+1), dir: filepath.Join(work, fmt.Sprintf("h%d", i+1))}
		if err := os.MkdirAll(h.dir, 0o700); err != nil {
			return f, err
		}
		if err := h.configure(bin, endpoint, prefix, f.mark, leaseTTL, [3]int(ports[3*i:3*i+3])); err != nil {
			return f, err
		}
		f.hosts = append(f.hosts, h)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, h := range f.hosts {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			// A port that was free when chosen may be taken by another
			// process before serve binds it: choose again.
			for attempt := 0; ; attempt++ {
				errs[i] = h.start(ctx, bin)
				if errs[i] == nil || attempt == 2 || !h.bindFailed() {
					return
				}
				p, err := freePorts(3)
				if err == nil {
					err = h.configure(bin, endpoint, prefix, f.mark, leaseTTL, [3]int(p))
				}
				if err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	wg.Wait()
	return f, errors.Join(errs...)
}

// configure writes the host's config with ports: the proxy's, then the
// app's two.
func (h *host) configure(bin, endpoint, prefix, mark string, leaseTTL time.Duration, ports [3]int) error {
	h.proxy = fmt.Sprintf("127.0.0.1:%d", ports[0])
	cfg := hostConfig(bin, h.name, h.dir, h.proxy, endpoint, prefix, mark, leaseTTL, [2]int{ports[1], ports[2]})
	return os.WriteFile(filepath.Join(h.dir, "cutover.yaml"), []byte(cfg), 0o600)
}

// bindFailed reports whether the host's serve log says a port was taken.
func (h *host) bindFailed() bool {
	b, _ := os.ReadFile(filepath.Join(h.dir, "serve.log"))
	return strings.Contains(string(b), "address already in use")
}

func (h *host) start(ctx context.Context, bin string) error {
	if h.api != nil { // a start before this one failed
		h.api.Close()
	}
	logf, err := os.Create(filepath.Join(h.dir, "serve.log"))
	if err != nil {
		return err
	}
	defer logf.Close() // the child holds its own descriptor
	h.cmd = exec.Command(bin, "serve", "-c", filepath.Join(h.dir, "cutover.yaml"))
	h.cmd.Stdout, h.cmd.Stderr = logf, logf
	if err := h.cmd.Start(); err != nil {
		return fmt.Errorf("%s: start cutover serve: %w", h.name, err)
	}
	h.done = make(chan error, 1)
	go func() { h.done <- h.cmd.Wait() }()
	if h.api, err = api.NewClient("unix://"+filepath.Join(h.dir, "admin.sock"), ""); err != nil {
		return err
	}
	// The serve process sends no readiness event to a parent; poll its API.
	deadline := time.Now().Add(60 * time.Second)
	for {
		hctx, cancel := context.WithTimeout(ctx, time.Second)
		err := h.api.Health(hctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case werr := <-h.done:
			h.done <- werr
			return fmt.Errorf("%s: cutover serve exited early (%v); see %s", h.name, werr, logf.Name())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: cutover serve not ready after 60s: %w", h.name, err)
		}
	}
}

// ready asks the host's load-balancer ready endpoint.
func (h *host) ready(c *http.Client) bool {
	resp, err := c.Get("http://" + h.proxy + "/.cutover/ready")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}

// waitReady waits until every host's ready endpoint answers 200. Ready
// follows the state of every host's agent, with no single event to wait
// on from outside, so it polls.
func (f *fleetHosts) waitReady(ctx context.Context, d time.Duration) error {
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 2 * time.Second}
	end := time.Now().Add(d)
	for _, h := range f.hosts {
		for !h.ready(c) {
			if time.Now().After(end) {
				return fmt.Errorf("%s not ready after %s", h.name, d)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	return nil
}

// stop ends every serve with SIGTERM (SIGKILL after 40 s) and kills any
// app instance left behind.
func (f *fleetHosts) stop() {
	var wg sync.WaitGroup
	for _, h := range f.hosts {
		if h.cmd == nil || h.cmd.Process == nil {
			continue
		}
		wg.Go(func() {
			if h.api != nil {
				h.api.Close()
			}
			_ = h.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-h.done:
			case <-time.After(40 * time.Second):
				_ = h.cmd.Process.Kill()
				<-h.done
			}
		})
	}
	wg.Wait()
	for _, pid := range markedPIDs(f.mark) {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
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

// clockTick is the unit of /proc/<pid>/stat's CPU times (USER_HZ, 100 on
// Linux).
const clockTick = 10 * time.Millisecond

// processCPU returns the user + system CPU time pid used so far (0 when it
// cannot be read).
func processCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; fields after it are plain.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	f := strings.Fields(s)
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * clockTick
}

// cpu returns the CPU time every serve process used so far (its app
// instances are separate processes and not counted).
func (f *fleetHosts) cpu() time.Duration {
	var sum time.Duration
	for _, h := range f.hosts {
		if h.cmd != nil && h.cmd.Process != nil {
			sum += processCPU(h.cmd.Process.Pid)
		}
	}
	return sum
}
