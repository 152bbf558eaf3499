package proxy

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"time"
)

// keepAliveConn sends one request on a new connection, reads the answer and
// leaves the connection idle.
func keepAliveConn(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	br := bufio.NewReader(c)
	if err := getOn(c, br); err != nil {
		t.Fatalf("first request: %v", err)
	}
	return c, br
}

// getOn sends a GET on c and reads a 200 answer.
func getOn(c net.Conn, br *bufio.Reader) error {
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// closedByPeer reports whether the server closed c.
func closedByPeer(c net.Conn, br *bufio.Reader) bool {
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err := br.ReadByte()
	return err == io.EOF || isConnReset(err)
}

func TestMaxConnectionsClosesOldestIdle(t *testing.T) {
	be := nameBackend(t, "web")
	p := newTestProxy(t, Options{})
	if err := p.Apply([]ServiceSpec{oneSet("web", "v1", TargetSpec{ID: "b", Addr: addrOf(be)})}); err != nil {
		t.Fatal(err)
	}
	const max, extra = 20, 5
	srv, _ := startServer(t, p, ServerOptions{MaxConnections: max})
	addr := srv.HTTPAddr().String()

	type kc struct {
		c  net.Conn
		br *bufio.Reader
	}
	var conns []kc
	for i := range max {
		c, br := keepAliveConn(t, addr)
		conns = append(conns, kc{c, br})
		// The server marks a connection idle just after its answer: wait,
		// so that connections become idle in the order they were opened.
		waitFor(t, 5*time.Second, "the connection to be idle", func() bool { return srv.idleConnections() == i+1 })
	}
	// max+extra: each new connection is served and closes the oldest idle one.
	for range extra {
		c, br := keepAliveConn(t, addr)
		conns = append(conns, kc{c, br})
		waitFor(t, 5*time.Second, "the connection to be idle", func() bool { return srv.idleConnections() == max })
	}
	for i, k := range conns[:extra] {
		if !closedByPeer(k.c, k.br) {
			t.Errorf("idle connection %d (among the oldest) is still open", i)
		}
	}
	// The others stay usable.
	for i, k := range conns[extra:] {
		if err := getOn(k.c, k.br); err != nil {
			t.Errorf("connection %d: %v", i+extra, err)
		}
	}

	// With none idle (all connected, no request sent yet), a new
	// connection is refused.
	for _, k := range conns {
		k.c.Close()
	}
	var busy []net.Conn
	waitFor(t, 5*time.Second, "the closed connections to be counted", func() bool {
		return srv.openConnections() == 0
	})
	for range max {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		busy = append(busy, c)
	}
	waitFor(t, 5*time.Second, "the busy connections to be accepted", func() bool { return srv.openConnections() == max })
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !closedByPeer(c, bufio.NewReader(c)) {
		t.Error("a connection beyond max with none idle was not refused")
	}
	// A waiting connection that sends its request is still served.
	if err := getOn(busy[0], bufio.NewReader(busy[0])); err != nil {
		t.Errorf("a connection within max: %v", err)
	}
}

// rssKiB returns the resident set size of the process.
func rssKiB(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// retainedKiB returns the memory the Go runtime holds from the OS (mapped
// and not released). Unlike the RSS it leaves out the race detector's
// shadow memory, which is never returned.
func retainedKiB() int {
	samples := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(samples)
	return int((samples[0].Value.Uint64() - samples[1].Value.Uint64()) >> 10)
}

// TestHelperIdleClients is not a test: run by TestIdleConnectionMemory in
// a child process, it opens IDLE_CLIENTS keep-alive connections to
// IDLE_ADDR, prints "ready" and holds them until its stdin closes.
func TestHelperIdleClients(t *testing.T) {
	addr := os.Getenv("IDLE_ADDR")
	if addr == "" {
		return
	}
	n, _ := strconv.Atoi(os.Getenv("IDLE_CLIENTS"))
	var conns []net.Conn
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		if err := getOn(c, br); err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Time{})
		conns = append(conns, c)
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
}

// TestIdleConnectionMemory holds many idle keep-alive connections from a
// child process and checks that the memory the proxy holds from the OS
// comes back down after they close. CUTOVER_IDLE_CLIENTS sets the number (default 1,000).
func TestIdleConnectionMemory(t *testing.T) {
	clients := 1000
	if v := os.Getenv("CUTOVER_IDLE_CLIENTS"); v != "" {
		clients, _ = strconv.Atoi(v)
	}
	be := nameBackend(t, "web")
	p := newTestProxy(t, Options{Logger: testLogger(t)})
	if err := p.Apply([]ServiceSpec{oneSet("web", "v1", TargetSpec{ID: "b", Addr: addrOf(be)})}); err != nil {
		t.Fatal(err)
	}
	srv, _ := startServer(t, p, ServerOptions{})
	before, beforeRSS := retainedKiB(), rssKiB(t)

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperIdleClients$", "-test.count=1")
	cmd.Env = append(os.Environ(), "IDLE_ADDR="+srv.HTTPAddr().String(), "IDLE_CLIENTS="+strconv.Itoa(clients))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		stdin.Close()
		_ = cmd.Wait()
		t.Fatalf("client process: %q %v: %s", line, err, stderr.String())
	}
	waitFor(t, 10*time.Second, "all connections idle", func() bool { return srv.openConnections() == clients })
	peak, peakRSS := retainedKiB(), rssKiB(t)
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("client process: %v: %s", err, stderr.String())
	}
	waitFor(t, 10*time.Second, "the connections to close", func() bool { return srv.openConnections() == 0 })
	var after int
	deadline := time.Now().Add(3 * freeDelay)
	for {
		after = retainedKiB()
		if after-before <= (peak-before)/2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("memory held from the OS with %d idle connections: before %d KiB, with them %d KiB, %v after they closed still %d KiB",
				clients, before, peak, 3*freeDelay, after)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%d idle connections: memory held from the OS before %d KiB, with them %d KiB, after they closed %d KiB; RSS %d, %d, %d KiB",
		clients, before, peak, after, beforeRSS, peakRSS, rssKiB(t))
}
