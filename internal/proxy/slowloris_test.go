package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSlowlorisWhileHoldingIdleConnections holds 10,000 idle keep-alive
// connections (CUTOVER_SLOWLORIS_IDLE sets the number) from a child
// process while a client sends its request head one byte per second: that
// client is cut at the read-header timeout, and other clients are served
// all along.
func TestSlowlorisWhileHoldingIdleConnections(t *testing.T) {
	idle := 10_000
	if v := os.Getenv("CUTOVER_SLOWLORIS_IDLE"); v != "" {
		idle, _ = strconv.Atoi(v)
	}
	be := nameBackend(t, "web")
	p := newTestProxy(t, Options{})
	if err := p.Apply([]ServiceSpec{oneSet("web", "v1", TargetSpec{ID: "b", Addr: addrOf(be)})}); err != nil {
		t.Fatal(err)
	}
	const headerTimeout = 3 * time.Second
	srv, base := startServer(t, p, ServerOptions{ReadHeaderTimeout: headerTimeout, MaxConnections: idle + 100})
	before := retainedKiB()

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperIdleClients$", "-test.count=1")
	cmd.Env = append(os.Environ(), "IDLE_ADDR="+srv.HTTPAddr().String(), "IDLE_CLIENTS="+strconv.Itoa(idle))
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
	defer func() {
		stdin.Close()
		_ = cmd.Wait()
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		t.Fatalf("client process: %q %v: %s", line, err, stderr.String())
	}
	waitFor(t, 30*time.Second, "all connections open", func() bool { return srv.openConnections() == idle })
	logMemory := func(when string) {
		held := retainedKiB() - before
		runtime.GC()
		runtime.GC() // the second frees what the pools let go in the first
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		t.Logf("%d idle connections %s: %d KiB more held from the OS (%.1f KiB each); heap in use %d KiB, stacks %d KiB",
			idle, when, held, float64(held)/float64(idle), ms.HeapInuse>>10, ms.StackInuse>>10)
	}
	logMemory("just opened")

	slow, err := net.Dial("tcp", srv.HTTPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	head := "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 60) + "\r\n\r\n"
	cut := make(chan int, 1)
	go func() {
		sent := 0
		for ; sent < len(head); sent++ {
			if _, err := slow.Write([]byte{head[sent]}); err != nil {
				break
			}
			time.Sleep(time.Second)
		}
		cut <- sent
	}()
	_ = slow.SetReadDeadline(time.Now().Add(30 * time.Second))
	readDone := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(slow)
		readDone <- err
	}()

	// Others are served while the slow client trickles.
	client := &http.Client{Timeout: 10 * time.Second}
	served := 0
	for {
		select {
		case err := <-readDone:
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the slow client was not cut off")
			}
			slow.Close()
			if sent := <-cut; sent >= len(head) {
				t.Fatalf("the slow client sent its whole head (%d bytes) before being cut", sent)
			}
			if served == 0 {
				t.Fatal("no other request was served while the slow client trickled")
			}
			t.Logf("slow client cut; %d other requests served meanwhile", served)
			logMemory("after the slow client was cut")
			return
		default:
		}
		resp, err := client.Get(base + "/")
		if err != nil {
			t.Fatalf("request while holding %d idle connections: %v", idle, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		served++
		time.Sleep(50 * time.Millisecond)
	}
}
