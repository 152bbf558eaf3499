// Command harness runs the data plane benchmark: it starts one Go backend (two
// for switch runs) and each proxy in front of it, pinned to one CPU, drives
// them with wrk from the other CPU in interleaved rounds, measures failed
// requests while versions are switched every 100 ms, and writes RESULTS.md.
//
// It is meant to be started by bench/run.sh, which installs the tools and
// builds the binaries it expects in -bin.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// harness holds the settings of one benchmark run. It is used by one
// goroutine (the switchers it starts are owned and stopped by switchTest).
type harness struct {
	log            *slog.Logger
	workDir        string
	confDir        string
	binDir         string
	luaScript      string
	wrkLog         string
	rounds         int
	duration       time.Duration
	warmup         time.Duration
	switchDuration time.Duration
	switchEvery    time.Duration
	conns          []int // switch runs
	workloads      []workload
	proxyCPU       int
	loadCPU        int
	backendBase    int
	portBase       int
	subjects       []string
}

func (h *harness) backendPort(i int) int    { return h.backendBase + i - 1 }
func (h *harness) backendAddr(i int) string { return "127.0.0.1:" + strconv.Itoa(h.backendPort(i)) }
func (h *harness) subjectPort(key string) int {
	return h.portBase + slices.Index(allSubjects, key)
}
func (h *harness) path(name string) string { return filepath.Join(h.workDir, name) }

func main() {
	h := &harness{log: slog.New(slog.NewTextHandler(os.Stderr, nil))}
	var conns, subjects, wls, out, commit, command string
	flag.StringVar(&h.workDir, "work", "", "scratch directory for configs, logs and raw results (required)")
	flag.StringVar(&h.confDir, "conf", "bench", "directory holding the *.tmpl configs and wrk-report.lua")
	flag.StringVar(&h.binDir, "bin", "", "directory holding backend, loadcheck, cutover, proxyonly (required)")
	flag.IntVar(&h.rounds, "rounds", 3, "interleaved rounds")
	flag.DurationVar(&h.duration, "duration", 10*time.Second, "length of one measured wrk run (whole seconds)")
	flag.DurationVar(&h.warmup, "warmup", time.Second, "unmeasured wrk run before each measured one (0: none)")
	flag.DurationVar(&h.switchDuration, "switch-duration", 10*time.Second, "length of one switch run")
	flag.DurationVar(&h.switchEvery, "switch-every", 100*time.Millisecond, "interval between version switches")
	flag.StringVar(&conns, "conns", "64,256", "connection counts of the switch runs, comma separated")
	flag.StringVar(&wls, "workloads", defaultWorkloads, "speed runs, comma separated (see workload.go)")
	flag.StringVar(&subjects, "subjects", strings.Join(allSubjects, ","), "subjects to run, comma separated")
	flag.IntVar(&h.proxyCPU, "proxy-cpu", 0, "CPU for proxies and backends")
	flag.IntVar(&h.loadCPU, "load-cpu", 1, "CPU for wrk and loadcheck")
	flag.IntVar(&h.backendBase, "backend-port", 19001, "port of backend v1 (v2 uses the next port)")
	flag.IntVar(&h.portBase, "port", 18080, "proxies listen on this port + 1 (nginx), + 2 (haproxy), + 3 (caddy), + 4 (cutover), + 5 (library)")
	flag.StringVar(&out, "out", "bench/RESULTS.md", "Markdown report to write")
	raw := flag.String("raw", "", "raw results (JSON) to write (default: results.json in -work)")
	flag.StringVar(&commit, "commit", "unknown", "commit being measured, for the report")
	flag.StringVar(&command, "command", "bench/run.sh", "command line to print in the report")
	render := flag.String("render", "", "only re-render -out from this results.json of an earlier run")
	goBench := flag.String("gobench", "", "output of the proxy's Go benchmark to include (optional)")
	analysis := flag.String("analysis", "", "Markdown file to include in the report as it is (optional)")
	flag.Parse()

	if *render != "" {
		if err := rerender(*render, out, *analysis); err != nil {
			fmt.Fprintln(os.Stderr, "harness:", err)
			os.Exit(1)
		}
		return
	}
	err := h.configure(conns, subjects)
	if err == nil {
		h.workloads, err = parseWorkloads(wls)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if *raw == "" {
		*raw = h.path("results.json")
	}
	res := h.run(ctx, commit, command)
	if err := addExtras(res, *goBench, *analysis); err != nil {
		h.log.Error("read report extras failed", "err", err)
	}
	if err := save(*raw, out, res); err != nil {
		h.log.Error("write results failed", "err", err)
		os.Exit(1)
	}
	h.log.Info("results written", "report", out, "raw", *raw)
}

// ErrBadFlags reports invalid command-line flags.
var ErrBadFlags = errors.New("invalid flags")

func (h *harness) configure(conns, subjects string) error {
	if h.workDir == "" || h.binDir == "" {
		return fmt.Errorf("%w: -work and -bin are required", ErrBadFlags)
	}
	for _, f := range strings.Split(conns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return fmt.Errorf("%w: -conns %q: want positive integers separated by commas", ErrBadFlags, conns)
		}
		h.conns = append(h.conns, n)
	}
	known := map[string]bool{}
	for _, k := range allSubjects {
		known[k] = true
	}
	for _, f := range strings.Split(subjects, ",") {
		k := strings.TrimSpace(f)
		if !known[k] {
			return fmt.Errorf("%w: -subjects: unknown %q (known: %s)", ErrBadFlags, k, strings.Join(allSubjects, ", "))
		}
		h.subjects = append(h.subjects, k)
	}
	if h.rounds < 1 || h.duration < time.Second || h.switchEvery <= 0 {
		return fmt.Errorf("%w: need -rounds >= 1, -duration >= 1s, -switch-every > 0", ErrBadFlags)
	}
	h.luaScript = filepath.Join(h.confDir, "wrk-report.lua")
	h.wrkLog = h.path("wrk.log")
	return os.MkdirAll(h.workDir, 0o755)
}

// defaultLabels name subjects that could not be started.
var defaultLabels = map[string]string{
	keyDirect:  "backend alone (no proxy)",
	keyNginx:   "nginx",
	keyHAProxy: "HAProxy",
	keyCaddy:   "Caddy",
	keyCutover: "cutover (product binary)",
	keyLibrary: "cutover data plane (library)",
}

// run does the whole benchmark and returns what it measured; failures of
// single subjects are recorded, not fatal.
func (h *harness) run(ctx context.Context, commit, command string) *results {
	res := &results{
		Order: h.subjects, Labels: map[string]string{}, Skipped: map[string]string{},
		Meta: meta{
			Start: time.Now(), Machine: readMachine(), Commit: commit, LoadStart: loadavg(),
			Tools: tools(), Rounds: h.rounds, Duration: h.duration.String(), Warmup: h.warmup.String(),
			Conns: h.conns, Workloads: workloadKeys(h.workloads), SwitchDuration: h.switchDuration.String(), SwitchEvery: h.switchEvery.String(),
			ProxyCPU: h.proxyCPU, LoadCPU: h.loadCPU, Command: command,
		},
	}
	defer func() { res.Meta.End, res.Meta.LoadEnd = time.Now(), loadavg() }()
	h.log.Info("starting", "loadavg", res.Meta.LoadStart, "rounds", h.rounds, "duration", h.duration, "workloads", workloadKeys(h.workloads))

	for i := 1; i <= 2; i++ {
		p, err := startProc("backend-v"+strconv.Itoa(i), h.proxyCPU, nil, h.path("backend.log"),
			filepath.Join(h.binDir, "backend"), "-addr", h.backendAddr(i), "-name", "v"+strconv.Itoa(i))
		if err == nil {
			defer p.stop(5 * time.Second)
			err = waitHTTP(ctx, p, "http://"+h.backendAddr(i)+"/", 10*time.Second)
		}
		if err != nil {
			res.Meta.Notes = append(res.Meta.Notes, "Backend failed to start: "+err.Error())
			return res
		}
	}

	var subs []*subject
	starters := h.starters()
	for _, key := range h.subjects {
		dir := h.path(key)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			res.Skipped[key] = err.Error()
			continue
		}
		s, err := starters[key](ctx, h, h.subjectPort(key), dir)
		if err != nil {
			res.Labels[key] = defaultLabels[key]
			res.Skipped[key] = err.Error()
			h.log.Warn("subject skipped", "subject", key, "err", err)
			continue
		}
		defer s.stop()
		res.Labels[key] = s.Label
		subs = append(subs, s)
		h.log.Info("subject ready", "subject", key, "url", s.URL(), "pid", s.pid)
	}

	res.Speed = h.speed(ctx, subs)
	for _, s := range subs {
		if s.switchTo != nil && ctx.Err() == nil {
			res.Switch = append(res.Switch, h.switchTest(ctx, s)...)
		}
	}
	return res
}

// tools lists the versions of the measured tools that are installed.
func tools() []string {
	var out []string
	for _, t := range []struct {
		name string
		want string
		argv []string
	}{
		{"nginx", "nginx", []string{"nginx", "-v"}},
		{"HAProxy", "haproxy version", []string{"haproxy", "-v"}},
		{"Caddy", ".", []string{"caddy", "version"}},
		{"wrk", "wrk", []string{"wrk", "--version"}},
	} {
		if _, err := exec.LookPath(t.argv[0]); err != nil {
			continue
		}
		if v := versionNumber(version(t.want, t.argv...)); v != "" {
			out = append(out, t.name+" "+v)
		}
	}
	return append(out, runtime.Version())
}

// save writes res as JSON to raw and as Markdown to report.
func save(raw, report string, res *results) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(raw, b, 0o644); err != nil {
		return err
	}
	f, err := os.Create(report)
	if err != nil {
		return err
	}
	if err := writeReport(f, res); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// addExtras adds the Go benchmark's result lines from goBenchPath and the
// Markdown in analysisPath to res; an empty path adds nothing.
func addExtras(res *results, goBenchPath, analysisPath string) error {
	if goBenchPath != "" {
		b, err := os.ReadFile(goBenchPath)
		if err != nil {
			return err
		}
		res.GoBench = nil
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "Benchmark") {
				res.GoBench = append(res.GoBench, strings.Join(strings.Fields(l), " "))
			}
		}
	}
	if analysisPath != "" {
		b, err := os.ReadFile(analysisPath)
		if err != nil {
			return err
		}
		res.Analysis = string(b)
	}
	return nil
}

// rerender writes the Markdown report for the raw results in rawPath, with
// the Markdown in analysisPath (if not empty).
func rerender(rawPath, report, analysisPath string) error {
	b, err := os.ReadFile(rawPath)
	if err != nil {
		return err
	}
	var res results
	if err := json.Unmarshal(b, &res); err != nil {
		return fmt.Errorf("%s: %w", rawPath, err)
	}
	if err := addExtras(&res, "", analysisPath); err != nil {
		return err
	}
	f, err := os.Create(report)
	if err != nil {
		return err
	}
	if err := writeReport(f, &res); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
