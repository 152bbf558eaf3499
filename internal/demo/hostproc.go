package demo

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
	"strings"
	"syscall"
	"time"

	"github.com/cutover-dev/cutover/internal/api"
)

// hostEnv names the demo host in the environment of its cutover serve
// and app instances.
const hostEnv = "DEMO_HOST"

// demoHost is one `cutover serve` child of the many-hosts demo: its own
// config, state dir, admin socket, public port and app ports.
type demoHost struct {
	name   string
	dir    string
	cfg    string
	sock   string
	http   string // public listener, 127.0.0.1:port
	ports  [3]int
	client *api.Client

	cmd  *exec.Cmd
	done chan struct{}
	err  error // cmd.Wait's result, set before done closes
	log  string
}

// startServe runs `cutover serve -c cfg -o json` and waits for its ready
// line, for the serve to exit, or for ctx.
func (h *demoHost) startServe(ctx context.Context, self string) error {
	h.log = filepath.Join(h.dir, "serve.log")
	logf, err := os.Create(h.log)
	if err != nil {
		return err
	}
	cmd := exec.Command(self, "serve", "-c", h.cfg, "-o", "json")
	// The app instances inherit it: it picks this host's flags file.
	cmd.Env = append(os.Environ(), hostEnv+"="+h.name)
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return err
	}
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start cutover serve for %s: %w", h.name, err)
	}
	h.cmd, h.done = cmd, make(chan struct{})
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		signalled := false
		for sc.Scan() {
			if !signalled && bytes.Contains(sc.Bytes(), []byte(`"ready":true`)) {
				close(ready)
				signalled = true
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		h.err = cmd.Wait()
		logf.Close()
		close(h.done)
	}()
	select {
	case <-ready:
	case <-h.done:
		return fmt.Errorf("cutover serve for %s exited early (%v):\n%s", h.name, h.err, tail(h.log, 15))
	case <-ctx.Done():
		return ctx.Err()
	}
	c, err := api.NewClient("unix://"+h.sock, "")
	if err != nil {
		return err
	}
	h.client = c
	return nil
}

// stopServe ends the serve with SIGTERM, and SIGKILL after grace; its app
// instances keep running, as they do under systemd.
func (h *demoHost) stopServe(grace time.Duration) {
	if h.cmd == nil {
		return
	}
	if h.client != nil {
		h.client.Close()
	}
	_ = h.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-h.done:
	case <-time.After(grace):
		_ = h.cmd.Process.Kill()
		<-h.done
	}
	h.cmd = nil
}

// instancePIDs lists the process ids of the host's app instances.
func (h *demoHost) instancePIDs(ctx context.Context) []int {
	if h.client == nil {
		return nil
	}
	st, err := h.client.Status(ctx, "shop")
	if err != nil {
		return nil
	}
	var pids []int
	for _, r := range []*releaseStatus{st.Active, st.Candidate, st.Standby} {
		if r == nil {
			continue
		}
		for _, in := range r.Instances {
			if in.PID > 0 {
				pids = append(pids, in.PID)
			}
		}
	}
	return pids
}

// stopInstances ends app instances (each leads its own process group):
// SIGTERM to the group, SIGKILL after grace.
func stopInstances(pids []int, grace time.Duration) {
	for _, p := range pids {
		_ = syscall.Kill(-p, syscall.SIGTERM)
	}
	deadline := time.Now().Add(grace)
	for _, p := range pids {
		for alive(p) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond) // a process that is not our child cannot be waited for
		}
		if alive(p) {
			_ = syscall.Kill(-p, syscall.SIGKILL)
		}
	}
}

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return !errors.Is(err, os.ErrNotExist)
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || !strings.HasPrefix(s[i+1:], " Z")
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  | " + strings.Join(lines, "\n  | ")
}

// etcdProcess is an etcd binary the demo runs on loopback with a
// temporary data dir.
type etcdProcess struct {
	cmd     *exec.Cmd
	done    chan struct{}
	client  string
	version string
}

// startEtcdBinary starts bin as a one-member cluster on loopback and waits
// until it answers its health check.
func startEtcdBinary(ctx context.Context, bin, dir string) (*etcdProcess, error) {
	ports, err := belowEphemeralPorts(2)
	if err != nil {
		return nil, err
	}
	client := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	peer := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	e := &etcdProcess{client: client, done: make(chan struct{})}
	if out, err := exec.Command(bin, "--version").Output(); err == nil {
		e.version = strings.TrimSpace(strings.TrimPrefix(strings.SplitN(string(out), "\n", 2)[0], "etcd Version:"))
	}
	logf, err := os.Create(filepath.Join(dir, "etcd.log"))
	if err != nil {
		return nil, err
	}
	e.cmd = exec.Command(bin, "--name", "demo", "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "demo="+peer, "--initial-cluster-token", "cutover-demo",
		"--log-level", "error", "--logger", "zap")
	e.cmd.Stdout, e.cmd.Stderr = logf, logf
	setDeathSignal(e.cmd)
	if err := e.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { _ = e.cmd.Wait(); logf.Close(); close(e.done) }()
	hc := &http.Client{Timeout: time.Second}
	for start := time.Now(); time.Since(start) < 20*time.Second; {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, client+"/health", nil)
		if resp, err := hc.Do(req); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if bytes.Contains(b, []byte(`"true"`)) {
				return e, nil
			}
		}
		select {
		case <-e.done:
			return nil, fmt.Errorf("%s exited:\n%s", bin, tail(filepath.Join(dir, "etcd.log"), 10))
		case <-ctx.Done():
			e.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond): // polling a health endpoint: there is no event to wait on
		}
	}
	e.stop()
	return nil, fmt.Errorf("%s did not answer its health check within 20s", bin)
}

func (e *etcdProcess) stop() {
	_ = e.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.done:
	case <-time.After(10 * time.Second):
		_ = e.cmd.Process.Kill()
		<-e.done
	}
}
