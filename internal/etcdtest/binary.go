package etcdtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/cutover-dev/cutover/internal/testutil"
)

// BinaryOptions configures StartBinary.
type BinaryOptions struct {
	// Members is 1 (default) or 3.
	Members int
}

// Cluster is etcd run from its binary, one process a member.
type Cluster struct {
	t       testing.TB
	bin     string
	members []*member
}

type member struct {
	name, dir, client, peer string
	args                    []string
	mu                      sync.Mutex
	cmd                     *exec.Cmd
	done                    chan struct{}
	log                     *bytes.Buffer
}

// StartBinary starts etcd (found in PATH: Debian's etcd-server package)
// as a cluster of opts.Members members on loopback with temporary data
// directories, waits until it serves, and stops every member by PID when
// the test ends. Without the binary the test fails under CI=true and is
// skipped elsewhere.
func StartBinary(t testing.TB, opts BinaryOptions) *Cluster {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("etcd is required in CI (apt-get install etcd-server)")
		}
		t.Skip("etcd binary not installed (apt-get install etcd-server)")
	}
	n := opts.Members
	if n <= 0 {
		n = 1
	}
	c := &Cluster{t: t, bin: bin}
	token := fmt.Sprintf("cutover-test-%d", time.Now().UnixNano())
	var initial []string
	for i := range n {
		m := &member{
			name:   fmt.Sprintf("m%d", i),
			dir:    filepath.Join(t.TempDir(), "data"),
			client: fmt.Sprintf("http://127.0.0.1:%d", testutil.FreePort(t)),
			peer:   fmt.Sprintf("http://127.0.0.1:%d", testutil.FreePort(t)),
		}
		initial = append(initial, m.name+"="+m.peer)
		c.members = append(c.members, m)
	}
	for _, m := range c.members {
		m.args = []string{
			"--name", m.name, "--data-dir", m.dir,
			"--listen-client-urls", m.client, "--advertise-client-urls", m.client,
			"--listen-peer-urls", m.peer, "--initial-advertise-peer-urls", m.peer,
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-token", token,
			"--initial-cluster-state", "new",
			"--heartbeat-interval", "50", "--election-timeout", "500",
			"--log-level", "error", "--logger", "zap",
		}
		c.start(m)
	}
	t.Cleanup(c.stopAll)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.waitHealthy(ctx); err != nil {
		t.Fatalf("etcd did not become healthy: %v\n%s", err, c.logs())
	}
	return c
}

func (c *Cluster) start(m *member) {
	c.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.log = &bytes.Buffer{}
	cmd := exec.Command(c.bin, m.args...)
	cmd.Stdout, cmd.Stderr = m.log, m.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("start etcd: %v", err)
	}
	m.cmd, m.done = cmd, make(chan struct{})
	done := m.done
	go func() { _ = cmd.Wait(); close(done) }()
}

func (c *Cluster) logs() string {
	var b strings.Builder
	for _, m := range c.members {
		m.mu.Lock()
		if m.log != nil {
			fmt.Fprintf(&b, "--- %s\n%s", m.name, lastLines(m.log.String(), 20))
		}
		m.mu.Unlock()
	}
	return b.String()
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Endpoints returns every member's client URL.
func (c *Cluster) Endpoints() []string {
	out := make([]string, len(c.members))
	for i, m := range c.members {
		out[i] = m.client
	}
	return out
}

func (c *Cluster) client(eps []string) (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
}

// waitHealthy waits until every running member answers and one leads.
func (c *Cluster) waitHealthy(ctx context.Context) error {
	for {
		err := c.check(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (c *Cluster) check(ctx context.Context) error {
	cl, err := c.client(c.Endpoints())
	if err != nil {
		return err
	}
	defer cl.Close()
	for _, m := range c.members {
		if !m.running() {
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, time.Second)
		st, err := cl.Status(sctx, m.client)
		cancel()
		if err != nil {
			return err
		}
		if st.Leader == 0 {
			return fmt.Errorf("member %s has no leader", m.name)
		}
	}
	return nil
}

func (m *member) running() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done == nil {
		return false
	}
	select {
	case <-m.done:
		return false
	default:
		return true
	}
}

// Leader returns the index of the member that leads now.
func (c *Cluster) Leader(t testing.TB) int {
	t.Helper()
	cl, err := c.client(c.Endpoints())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i, m := range c.members {
		if !m.running() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		st, err := cl.Status(ctx, m.client)
		cancel()
		if err == nil && st.Leader == st.Header.MemberId {
			return i
		}
	}
	t.Fatal("no etcd member leads")
	return -1
}

// Kill ends member i with SIGKILL and waits for it to exit.
func (c *Cluster) Kill(i int) {
	m := c.members[i]
	m.mu.Lock()
	cmd, done := m.cmd, m.done
	m.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// Restart starts a killed member again with its data.
func (c *Cluster) Restart(i int) {
	m := c.members[i]
	if m.running() {
		return
	}
	m.args = replaceArg(m.args, "--initial-cluster-state", "existing")
	c.start(m)
}

func replaceArg(args []string, flag, value string) []string {
	out := append([]string(nil), args...)
	for i := 0; i+1 < len(out); i++ {
		if out[i] == flag {
			out[i+1] = value
		}
	}
	return out
}

func (c *Cluster) stopAll() {
	for i := range c.members {
		c.Kill(i)
	}
}
