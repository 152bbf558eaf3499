// Command live measures canary analysis on real traffic through the built
// cutover binary: for each run it starts `cutover serve` with its own
// ports, deploys a baseline sample app, starts a rate-limited load
// generator, deploys a canary version with the sample app's error-rate and
// latency flags, and records how the canary ended and when. Runs go
// several at a time, each on its own ports. It writes a Markdown report and
// the raw runs as JSON; bench/analysis/live.sh builds and runs it.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// scenario is one kind of run.
type scenario struct {
	Name   string  `json:"name"`
	Expect string  `json:"expect"` // promoted, rolled back, or no promotion (waiting or rolling back are both right)
	Base   string  `json:"baseline_flags"`
	Canary string  `json:"canary_flags"`
	Rate   float64 `json:"rate"`
	Runs   int     `json:"runs"`
}

// run is the outcome of one run.
type run struct {
	Scenario string  `json:"scenario"`
	Index    int     `json:"index"`
	Outcome  string  `json:"outcome"` // promoted, rolled back, undecided, error
	Seconds  float64 `json:"seconds"` // from the canary's deploy command to its end
	Sent     int64   `json:"sent"`
	Failed   int64   `json:"failed"`
	Reason   string  `json:"reason,omitempty"`
}

func main() {
	var (
		bin      = flag.String("bin", "", "cutover binary (required)")
		work     = flag.String("work", "/tmp/cutover-bench-canary", "scratch directory")
		out      = flag.String("out", "bench/CANARY.md", "report path")
		raw      = flag.String("raw", "bench/analysis/live-results.json", "raw results path")
		parallel = flag.Int("parallel", 10, "runs at a time")
		aa       = flag.Int("aa", 20, "A/A runs")
		regress  = flag.Int("regress", 20, "+2-point error-rate runs")
		slow     = flag.Int("latency", 5, "+30ms latency runs")
		low      = flag.Int("low", 3, "+2-point runs at 2 req/s")
		rate     = flag.Float64("rate", 20, "requests per second in total")
		steps    = flag.String("steps", "10, 50, 100", "canary steps")
		stepDur  = flag.Duration("step-duration", 30*time.Second, "canary step_duration")
		limit    = flag.Duration("limit", 10*time.Minute, "a canary still running after this is undecided")
		machine  = flag.String("machine", "", "machine description for the report")
		commit   = flag.String("commit", "", "commit measured")
		from     = flag.String("from", "", "only rewrite the report from this raw results file")
	)
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if *from != "" {
		if err := rewrite(*from, *out, *limit, *parallel); err != nil {
			log.Error("rewrite report", "err", err)
			os.Exit(1)
		}
		return
	}
	if *bin == "" {
		fmt.Fprintln(os.Stderr, "live: -bin is required: the cutover binary to drive (go build -o /tmp/cutover ./cmd/cutover)")
		os.Exit(2)
	}
	scs := []scenario{
		{Name: "A/A (both 1% errors)", Expect: "promoted", Base: "--error-rate 0.01 --random-errors", Canary: "--error-rate 0.01 --random-errors", Rate: *rate, Runs: *aa},
		{Name: "+2 points errors (1% → 3%)", Expect: "rolled back", Base: "--error-rate 0.01 --random-errors", Canary: "--error-rate 0.03 --random-errors", Rate: *rate, Runs: *regress},
		{Name: "+30 ms latency", Expect: "rolled back", Base: "--error-rate 0.01 --random-errors", Canary: "--error-rate 0.01 --random-errors --latency 30ms", Rate: *rate, Runs: *slow},
		{Name: "+2 points errors, low traffic", Expect: "no promotion", Base: "--error-rate 0.01 --random-errors", Canary: "--error-rate 0.03 --random-errors", Rate: 2, Runs: *low},
	}
	type job struct {
		sc scenario
		i  int
	}
	var jobs []job
	// Interleave scenarios so a slow kind does not end up alone at the end.
	for i := 0; ; i++ {
		added := false
		for _, sc := range scs {
			if i < sc.Runs {
				jobs = append(jobs, job{sc, i})
				added = true
			}
		}
		if !added {
			break
		}
	}
	// The runs at 2 req/s take the whole limit: start them first.
	slices.SortStableFunc(jobs, func(a, b job) int {
		return cmpBool(b.sc.Rate < *rate, a.sc.Rate < *rate)
	})
	if err := os.MkdirAll(*work, 0o755); err != nil {
		log.Error("scratch directory", "err", err)
		os.Exit(1)
	}
	start := time.Now()
	results := make([]run, len(jobs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range *parallel {
		wg.Go(func() {
			for k := range next {
				j := jobs[k]
				r := oneRun(*bin, *work, *steps, *stepDur, *limit, j.sc, j.i)
				log.Info("run finished", "scenario", j.sc.Name, "index", j.i, "outcome", r.Outcome, "seconds", r.Seconds, "reason", r.Reason)
				results[k] = r
			}
		})
	}
	for k := range jobs {
		next <- k
	}
	close(next)
	wg.Wait()
	b, _ := json.MarshalIndent(rawResults{Machine: *machine, Commit: *commit, Date: start.UTC(), Wall: time.Since(start).Round(time.Second).String(),
		Steps: *steps, StepDuration: stepDur.String(), Scenarios: scs, Runs: results}, "", "  ")
	if err := os.WriteFile(*raw, append(b, '\n'), 0o644); err != nil {
		log.Error("write raw results", "err", err)
		os.Exit(1)
	}
	f, err := os.Create(*out)
	if err != nil {
		log.Error("write report", "err", err)
		os.Exit(1)
	}
	defer f.Close()
	report(f, scs, results, *steps, *stepDur, *limit, *machine, *commit, start, time.Since(start), *parallel)
}

// rawResults is the raw results file.
type rawResults struct {
	Machine      string     `json:"machine"`
	Commit       string     `json:"commit"`
	Date         time.Time  `json:"date"`
	Wall         string     `json:"wall"`
	Steps        string     `json:"steps"`
	StepDuration string     `json:"step_duration"`
	Scenarios    []scenario `json:"scenarios"`
	Runs         []run      `json:"runs"`
}

// rewrite writes the report of a raw results file again.
func rewrite(from, out string, limit time.Duration, parallel int) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	var r rawResults
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("%s: %w", from, err)
	}
	for i := range r.Scenarios {
		if r.Scenarios[i].Expect == "waits" {
			r.Scenarios[i].Expect = "no promotion"
		}
	}
	stepDur, _ := time.ParseDuration(r.StepDuration)
	wall, _ := time.ParseDuration(r.Wall)
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	report(f, r.Scenarios, r.Runs, r.Steps, stepDur, limit, r.Machine, r.Commit, r.Date, wall, parallel)
	return nil
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// oneRun runs one canary from a fresh cutover serve to its end.
func oneRun(bin, work, steps string, stepDur, limit time.Duration, sc scenario, i int) run {
	r := run{Scenario: sc.Name, Index: i}
	fail := func(err error) run { r.Outcome, r.Reason = "error", err.Error(); return r }
	dir, err := os.MkdirTemp(work, "run-")
	if err != nil {
		return fail(err)
	}
	srv, err := startServer(bin, dir, steps, stepDur)
	if err != nil {
		return fail(err)
	}
	defer srv.stop()
	if err := os.WriteFile(filepath.Join(dir, "flags-v1"), []byte(sc.Base), 0o600); err != nil {
		return fail(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "flags-v2"), []byte(sc.Canary), 0o600); err != nil {
		return fail(err)
	}
	if out, code := srv.cli(time.Minute, "deploy", "shop", "v1", "--strategy", "switch"); code != 0 {
		return fail(fmt.Errorf("baseline deploy exited %d: %s", code, lastLine(out)))
	}
	ctx, cancel := context.WithCancel(context.Background())
	var sent, failed atomic.Int64
	var lg sync.WaitGroup
	lg.Go(func() { load(ctx, "http://"+srv.proxy+"/", sc.Rate, &sent, &failed) })
	t0 := time.Now()
	out, code := srv.cli(limit, "deploy", "shop", "v2")
	r.Seconds = time.Since(t0).Seconds()
	cancel()
	lg.Wait()
	r.Sent, r.Failed = sent.Load(), failed.Load()
	switch code {
	case 0:
		r.Outcome = "promoted"
	case 3:
		r.Outcome = "rolled back"
	case -1:
		r.Outcome = "undecided"
		srv.cli(time.Minute, "abort", "shop")
	default:
		r.Outcome = "error"
	}
	r.Reason = lastLine(out)
	if r.Outcome == "promoted" || r.Outcome == "rolled back" || r.Outcome == "undecided" {
		_ = os.RemoveAll(dir)
	}
	return r
}

// lastLine returns the last non-empty line of out that says why.
func lastLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for k := len(lines) - 1; k >= 0; k-- {
		if l := strings.TrimSpace(lines[k]); strings.Contains(l, "analysis") || strings.Contains(l, "canary") {
			return truncate(l, 400)
		}
	}
	return truncate(lines[len(lines)-1], 400)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// load sends POSTs at rate per second (open loop: one goroutine per request,
// never retried) until ctx ends, counting 5xx and transport errors.
func load(ctx context.Context, url string, rate float64, sent, failed *atomic.Int64) {
	tr := &http.Transport{MaxIdleConnsPerHost: 32, DisableCompression: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		wg.Go(func() {
			sent.Add(1)
			resp, err := c.Post(url, "text/plain", strings.NewReader("x"))
			if err != nil {
				failed.Add(1)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				failed.Add(1)
			}
		})
	}
}

// server is one cutover serve.
type server struct {
	bin, dir, sock, proxy string
	cmd                   *exec.Cmd
	done                  chan error
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startServer writes a config running the sample app from bin with the
// flags of flags-<version> in dir, starts serve and waits for its API.
func startServer(bin, dir, steps string, stepDur time.Duration) (*server, error) {
	var ports [3]int
	for k := range ports {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		ports[k] = p
	}
	s := &server{bin: bin, dir: dir, sock: filepath.Join(dir, "admin.sock"), proxy: fmt.Sprintf("127.0.0.1:%d", ports[0])}
	script := fmt.Sprintf(`exec %s sample-app --version "$1" --port "$2" $(cat %s/flags-"$1" 2>/dev/null)`, bin, dir)
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
        BENCH_MARK: %q
    ports: [%d, %d]
    health:
      path: /healthz
      interval: 200ms
      timeout: 1s
      healthy_threshold: 2
      unhealthy_threshold: 2
    drain_timeout: 5s
    standby: 10m
    stop_grace: 3s
    strategy: canary
    canary:
      steps: [%s]
      step_duration: %s
`, s.proxy, s.sock, filepath.Join(dir, "state"), script, filepath.Base(dir), ports[1], ports[2], steps, stepDur)
	cfg := filepath.Join(dir, "cutover.yaml")
	if err := os.WriteFile(cfg, []byte(y), 0o600); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	s.cmd = exec.Command(bin, "serve", "-c", cfg)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	s.done = make(chan error, 1)
	go func() { s.done <- s.cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, code := s.cli(5*time.Second, "status"); code == 0 {
			return s, nil
		}
		select {
		case err := <-s.done:
			s.done <- err
			return nil, fmt.Errorf("cutover serve exited early (%v); see %s", err, logf.Name())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, errors.New("cutover serve not ready after 30s")
		}
	}
}

// cli runs the CLI against s; code is -1 when it ran past timeout.
func (s *server) cli(timeout time.Duration, args ...string) (string, int) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.bin, args...)
	cmd.Env = append(os.Environ(), "CUTOVER_ADMIN=unix://"+s.sock)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		return out.String(), -1
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.String(), ee.ExitCode()
	}
	if err != nil {
		return out.String() + err.Error(), 1
	}
	return out.String(), 0
}

// stop ends serve and any app instance it left behind.
func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	mark := "BENCH_MARK=" + filepath.Base(s.dir) + "\x00"
	ents, _ := os.ReadDir("/proc")
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		if b, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "environ")); err == nil && strings.Contains(string(b), mark) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
