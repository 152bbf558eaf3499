package sampleapp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/testutil"
)

// helperEnv makes the test binary run Main instead of the tests.
const helperEnv = "SAMPLEAPP_TEST_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(Main(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// lineWriter sends each complete line written to it on lines.
type lineWriter struct {
	mu    sync.Mutex
	buf   []byte
	lines chan string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.lines <- string(w.buf[:i])
		w.buf = w.buf[i+1:]
	}
}

// running is a sample app run in-process.
type running struct {
	addr    string
	started time.Time
	stdout  chan string
	stderr  *testutil.SyncBuffer
	stop    context.CancelFunc
	// exit is closed when run returns; code is then its exit code.
	exit chan struct{}
	code int
}

// wait returns run's exit code.
func (r *running) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-r.exit:
		return r.code
	case <-time.After(15 * time.Second):
		t.Fatal("sample app did not exit")
		return -1
	}
}

// launch runs the app with args and env, without waiting for it to listen.
func launch(t *testing.T, env map[string]string, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{
		started: time.Now(),
		stdout:  make(chan string, 16),
		stderr:  &testutil.SyncBuffer{},
		stop:    cancel,
		exit:    make(chan struct{}),
	}
	getenv := func(k string) string { return env[k] }
	go func() {
		defer close(r.exit)
		r.code = run(ctx, args, getenv, &lineWriter{lines: r.stdout}, r.stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.exit:
		case <-time.After(15 * time.Second):
			t.Error("sample app did not stop")
		}
	})
	return r
}

// start runs the app on a free port and waits for its listening line.
func start(t *testing.T, args ...string) *running {
	t.Helper()
	r := launch(t, nil, append([]string{"--port", "0"}, args...)...)
	select {
	case line := <-r.stdout:
		_, addr, ok := strings.Cut(line, " listening on ")
		if !ok {
			t.Fatalf("first stdout line = %q, want a listening line", line)
		}
		r.addr = addr
	case <-r.exit:
		t.Fatalf("sample app exited with %d before listening: %s", r.code, r.stderr)
	case <-time.After(15 * time.Second):
		t.Fatal("sample app did not start listening")
	}
	return r
}

// noRetry is a client whose transport never retries or reuses connections.
var noRetry = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// get fetches path and returns status, header and decoded JSON body (if any).
func get(t *testing.T, r *running, path string) (*http.Response, reply, string) {
	t.Helper()
	return do(t, r, http.MethodGet, path, nil)
}

func do(t *testing.T, r *running, method, path string, body io.Reader) (*http.Response, reply, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+r.addr+path, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := noRetry.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var rep reply
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatalf("decoding %q: %v", b, err)
		}
	}
	return resp, rep, string(b)
}

func TestVersionPortAndEndpoints(t *testing.T) {
	r := start(t, "--version", "v7")
	_, port, _ := net.SplitHostPort(r.addr)

	resp, body, _ := get(t, r, "/some/path")
	if resp.StatusCode != 200 || resp.Header.Get("X-Version") != "v7" {
		t.Fatalf("GET / = %d X-Version=%q, want 200 v7", resp.StatusCode, resp.Header.Get("X-Version"))
	}
	if body.Version != "v7" || fmt.Sprint(body.Port) != port || body.Path != "/some/path" || body.Host != r.addr {
		t.Fatalf("body = %+v, want version v7 port %s path /some/path host %s", body, port, r.addr)
	}

	resp, _, text := get(t, r, "/healthz")
	if resp.StatusCode != 200 || text != "ok" || resp.Header.Get("X-Version") != "v7" {
		t.Fatalf("GET /healthz = %d %q", resp.StatusCode, text)
	}

	resp, body, _ = do(t, r, http.MethodPost, "/upload", strings.NewReader(strings.Repeat("x", 1234)))
	if resp.StatusCode != 200 || body.Bytes == nil || *body.Bytes != 1234 {
		t.Fatalf("POST = %d %+v, want 200 with bytes 1234", resp.StatusCode, body)
	}
}

func TestEnvFallbacks(t *testing.T) {
	r := launch(t, map[string]string{"CUTOVER_VERSION": "v5", "PORT": "0"})
	line := <-r.stdout
	if !strings.HasPrefix(line, "sample-app v5 listening on 127.0.0.1:") {
		t.Fatalf("listening line = %q", line)
	}
}

func TestParseOptions(t *testing.T) {
	env := map[string]string{"CUTOVER_VERSION": "v9", "PORT": "9123"}
	getenv := func(k string) string { return env[k] }
	o, err := parseOptions(nil, getenv, io.Discard)
	if err != nil || o.version != "v9" || o.port != 9123 {
		t.Fatalf("env fallbacks: %+v %v", o, err)
	}
	o, err = parseOptions([]string{"--version", "v2", "--port", "8081"}, getenv, io.Discard)
	if err != nil || o.version != "v2" || o.port != 8081 {
		t.Fatalf("flags over env: %+v %v", o, err)
	}
	o, err = parseOptions(nil, func(string) string { return "" }, io.Discard)
	if err != nil || o.version != "v1" || o.port != 8080 || o.addr != "127.0.0.1" {
		t.Fatalf("defaults: %+v %v", o, err)
	}
}

func TestBadInput(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"error rate", nil, []string{"--error-rate", "2"}, "--error-rate 2 out of range"},
		{"port", nil, []string{"--port", "70000"}, "--port 70000 out of range"},
		{"negative latency", nil, []string{"--latency", "-1s"}, "--latency -1s must not be negative"},
		{"unknown flag", nil, []string{"--nope"}, "flag provided but not defined"},
		{"extra argument", nil, []string{"serve"}, `unexpected argument "serve"`},
		{"env port", map[string]string{"PORT": "http"}, nil, `PORT="http" is not a port number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := launch(t, tt.env, tt.args...)
			if code := r.wait(t); code != 2 {
				t.Fatalf("exit = %d, want 2", code)
			}
			if !strings.Contains(r.stderr.String(), tt.want) {
				t.Fatalf("stderr %q does not contain %q", r.stderr, tt.want)
			}
		})
	}
}

func TestUnhealthy(t *testing.T) {
	r := start(t, "--unhealthy")
	for range 3 {
		if resp, _, _ := get(t, r, "/healthz"); resp.StatusCode != 503 {
			t.Fatalf("GET /healthz = %d, want 503", resp.StatusCode)
		}
	}
	if resp, _, _ := get(t, r, "/"); resp.StatusCode != 200 {
		t.Fatalf("GET / = %d, want 200", resp.StatusCode)
	}
}

func TestErrorRate(t *testing.T) {
	tests := []struct {
		rate string
		want []int
	}{
		{"0", []int{200, 200, 200, 200}},
		{"0.25", []int{200, 200, 200, 500, 200, 200, 200, 500}},
		{"0.5", []int{200, 500, 200, 500}},
		{"1", []int{500, 500, 500}},
	}
	for _, tt := range tests {
		t.Run(tt.rate, func(t *testing.T) {
			r := start(t, "--error-rate", tt.rate)
			for i, want := range tt.want {
				resp, body, _ := get(t, r, "/")
				if resp.StatusCode != want {
					t.Fatalf("request %d = %d, want %d", i+1, resp.StatusCode, want)
				}
				if want == 500 && (body.Version == "" || body.Error == "") {
					t.Fatalf("error body %+v lacks version or error", body)
				}
				if resp, _, _ := get(t, r, "/healthz"); resp.StatusCode != 200 {
					t.Fatalf("health = %d, want 200 regardless of error rate", resp.StatusCode)
				}
			}
		})
	}
}

// TestRandomErrors: with --random-errors failures are independent draws,
// not an even spread: over 400 requests at rate 0.25 the count is near 100
// but the pattern is not the fixed "every fourth".
func TestRandomErrors(t *testing.T) {
	r := start(t, "--error-rate", "0.25", "--random-errors")
	failed, even := 0, true
	for i := range 400 {
		resp, _, _ := get(t, r, "/")
		if resp.StatusCode == 500 {
			failed++
		}
		if (resp.StatusCode == 500) != (i%4 == 3) {
			even = false
		}
	}
	if failed < 60 || failed > 140 {
		t.Fatalf("%d of 400 requests failed at rate 0.25 (want about 100)", failed)
	}
	if even {
		t.Fatal("random errors followed the even spread exactly")
	}
}

func TestLatency(t *testing.T) {
	const latency = 150 * time.Millisecond
	r := start(t, "--latency", latency.String())
	begin := time.Now()
	resp, _, _ := get(t, r, "/")
	if took := time.Since(begin); resp.StatusCode != 200 || took < latency {
		t.Fatalf("GET / = %d after %s, want 200 after at least %s", resp.StatusCode, took, latency)
	}
}

func TestStartDelay(t *testing.T) {
	const delay = 300 * time.Millisecond
	r := start(t, "--start-delay", delay.String())
	if took := time.Since(r.started); took < delay {
		t.Fatalf("listening after %s, want at least %s", took, delay)
	}
}

func TestStartDelayInterrupted(t *testing.T) {
	r := launch(t, nil, "--port", "0", "--start-delay", "1h")
	r.stop()
	if code := r.wait(t); code != 0 {
		t.Fatalf("exit = %d, want 0", code)
	}
}

func TestCrashAfter(t *testing.T) {
	const after = 200 * time.Millisecond
	r := start(t, "--crash-after", after.String())
	listening := time.Now()
	if code := r.wait(t); code != 1 {
		t.Fatalf("exit = %d, want 1", code)
	}
	if took := time.Since(listening); took < after-10*time.Millisecond {
		t.Fatalf("crashed %s after listening, want about %s", took, after)
	}
	if !strings.Contains(r.stderr.String(), "--crash-after") {
		t.Fatalf("stderr %q does not explain the crash", r.stderr)
	}
	if _, err := net.Dial("tcp", r.addr); err == nil {
		t.Fatal("still accepting connections after the crash")
	}
}

func TestExitImmediately(t *testing.T) {
	r := launch(t, nil, "--port", "0", "--exit-immediately")
	if code := r.wait(t); code != 3 {
		t.Fatalf("exit = %d, want 3", code)
	}
	if !strings.Contains(r.stderr.String(), "--exit-immediately") {
		t.Fatalf("stderr %q gives no reason", r.stderr)
	}
	select {
	case line := <-r.stdout:
		t.Fatalf("printed %q, want nothing on stdout", line)
	default:
	}
}

func TestSlow(t *testing.T) {
	r := start(t)
	begin := time.Now()
	resp, body, _ := get(t, r, "/slow?ms=120")
	if took := time.Since(begin); resp.StatusCode != 200 || took < 120*time.Millisecond {
		t.Fatalf("GET /slow = %d after %s", resp.StatusCode, took)
	}
	if body.SleptMS == nil || *body.SleptMS != 120 || body.Path != "/slow" {
		t.Fatalf("body = %+v", body)
	}
	if resp, _, _ := get(t, r, "/slow?ms=abc"); resp.StatusCode != 400 {
		t.Fatalf("GET /slow?ms=abc = %d, want 400", resp.StatusCode)
	}
}

// readEvents reads n server-sent events from br and returns their data lines.
func readEvents(t *testing.T, br *bufio.Reader, n int) []string {
	t.Helper()
	var data []string
	for len(data) < n {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading events: %v", err)
		}
		if d, ok := strings.CutPrefix(line, "data: "); ok {
			data = append(data, strings.TrimSpace(d))
		}
	}
	return data
}

func TestSSE(t *testing.T) {
	r := start(t, "--version", "v3")
	resp, err := noRetry.Get("http://" + r.addr + "/sse?interval=10ms")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type = %q", ct)
	}
	events := readEvents(t, bufio.NewReader(resp.Body), 3)
	if events[2] != `{"version":"v3","n":3}` {
		t.Fatalf("third event = %q", events[2])
	}
}

func TestGracefulStopEndsStreams(t *testing.T) {
	r := start(t)
	resp, err := noRetry.Get("http://" + r.addr + "/sse?interval=1h")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	readEvents(t, br, 1)
	r.stop()
	if rest, err := io.ReadAll(br); err != nil {
		t.Fatalf("stream ended with %v after %q, want a clean end", err, rest)
	}
	if code := r.wait(t); code != 0 {
		t.Fatalf("exit = %d, want 0", code)
	}
}

// postInFlight starts a POST whose body is held open and returns once the
// handler is reading it, with a func that completes the body and returns
// the response.
func postInFlight(t *testing.T, addr string, first, rest string) func() (int, reply) {
	t.Helper()
	pr, pw := io.Pipe()
	reading := make(chan struct{})
	trace := &httptrace.ClientTrace{Got100Continue: func() { close(reading) }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
		http.MethodPost, "http://"+addr+"/in-flight", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Expect", "100-continue")
	req.ContentLength = int64(len(first) + len(rest))
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, ExpectContinueTimeout: time.Minute}}
	type result struct {
		resp *http.Response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := client.Do(req)
		done <- result{resp, err}
	}()
	go io.WriteString(pw, first)
	select {
	case <-reading:
	case res := <-done:
		t.Fatalf("request ended before the handler read it: %v", res.err)
	}
	return func() (int, reply) {
		if _, err := io.WriteString(pw, rest); err != nil {
			t.Fatal(err)
		}
		pw.Close()
		res := <-done
		if res.err != nil {
			t.Fatalf("in-flight request failed: %v", res.err)
		}
		defer res.resp.Body.Close()
		var rep reply
		if err := json.NewDecoder(res.resp.Body).Decode(&rep); err != nil {
			t.Fatal(err)
		}
		return res.resp.StatusCode, rep
	}
}

func TestGracefulStopFinishesInFlight(t *testing.T) {
	r := start(t)
	finish := postInFlight(t, r.addr, "hello ", "world")
	r.stop()
	// The listener closes first; new connections are refused while the
	// in-flight request is still being served.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", r.addr)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting connections after stop")
		}
		time.Sleep(10 * time.Millisecond)
	}
	status, rep := finish()
	if status != 200 || rep.Bytes == nil || *rep.Bytes != 11 {
		t.Fatalf("in-flight POST = %d %+v, want 200 with 11 bytes", status, rep)
	}
	if code := r.wait(t); code != 0 {
		t.Fatalf("exit = %d, want 0", code)
	}
}

func TestMainSIGTERM(t *testing.T) {
	cmd := exec.Command(os.Args[0], "--port", "0", "--version", "v4")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	br := bufio.NewReader(stdout)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	_, addr, ok := strings.Cut(strings.TrimSpace(line), "sample-app v4 listening on ")
	if !ok {
		t.Fatalf("listening line = %q", line)
	}
	finish := postInFlight(t, addr, "abc", "def")
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if status, rep := finish(); status != 200 || *rep.Bytes != 6 || rep.Version != "v4" {
		t.Fatalf("in-flight POST = %d %+v", status, rep)
	}
	rest, _ := io.ReadAll(br)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v, want 0", err)
	}
	if !strings.Contains(string(rest), "shutting down") {
		t.Fatalf("stdout after start = %q, want a shutdown line", rest)
	}
}

// TestMainIgnoreSIGTERM: with --ignore-sigterm the app serves on after
// SIGTERM; only SIGKILL ends it.
func TestMainIgnoreSIGTERM(t *testing.T) {
	cmd := exec.Command(os.Args[0], "--port", "0", "--version", "v5", "--ignore-sigterm")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	_, addr, ok := strings.Cut(strings.TrimSpace(line), "sample-app v5 listening on ")
	if !ok {
		t.Fatalf("listening line = %q", line)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// A request sent after the signal is answered: the signal changed nothing.
	if status, rep := postInFlight(t, addr, "ab", "cd")(); status != 200 || rep.Version != "v5" {
		t.Fatalf("POST after SIGTERM = %d %+v", status, rep)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatal("exit status 0 after SIGKILL")
	}
}
