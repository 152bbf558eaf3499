package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	etcdstore "github.com/cutover-dev/cutover/internal/coord/etcd"
)

// etcdServer is one etcd member run from its binary on loopback with its
// own data directory.
type etcdServer struct {
	cmd      *exec.Cmd
	done     chan error
	endpoint string // client URL
	log      *bytes.Buffer
}

// freePorts returns n distinct loopback TCP ports that were free a moment
// ago (all held open until every one is chosen).
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	out := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

// etcdVersion returns the first line of `bin --version`.
func etcdVersion(bin string) string {
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return first
}

// startEtcd starts a one-member etcd with its data under dir (default
// settings otherwise: --max-txn-ops 128, fsync on) and waits until it
// answers.
func startEtcd(ctx context.Context, bin, dir string) (*etcdServer, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	client, peer := fmt.Sprintf("http://127.0.0.1:%d", ports[0]), fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	e := &etcdServer{endpoint: client, log: &bytes.Buffer{}, done: make(chan error, 1)}
	e.cmd = exec.Command(bin,
		"--name", "m0", "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "m0="+peer, "--initial-cluster-state", "new",
		"--log-level", "error", "--logger", "zap")
	e.cmd.Stdout, e.cmd.Stderr = e.log, e.log
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := e.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start etcd: %w", err)
	}
	go func() { e.done <- e.cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := etcdstore.Open(ctx, etcdstore.Options{Endpoints: []string{client}, DialTimeout: time.Second, Logger: slog.New(slog.DiscardHandler)})
		if err == nil {
			_, _, _, err = st.Get(ctx, "/probe")
			_ = st.Close()
			if err == nil {
				return e, nil
			}
		}
		select {
		case werr := <-e.done:
			e.done <- werr
			return nil, fmt.Errorf("etcd exited early (%v): %s", werr, e.log)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			e.stop()
			return nil, fmt.Errorf("etcd not serving after 30s: %w", err)
		}
	}
}

// stop ends etcd with SIGTERM (SIGKILL after 10 s).
func (e *etcdServer) stop() {
	_ = e.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.done:
	case <-time.After(10 * time.Second):
		_ = e.cmd.Process.Kill()
		<-e.done
	}
}

// lookPath finds bin, naming the Debian package when it is missing.
func lookPath(bin string) (string, error) {
	p, err := exec.LookPath(bin)
	if errors.Is(err, exec.ErrNotFound) {
		return "", fmt.Errorf("%s not found: apt-get install etcd-server", bin)
	}
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(p); err != nil {
		return "", err
	}
	return p, nil
}
