// Command embedbench measures what linking and running the embedded etcd
// server costs cutover serve; bench/embedded/run.sh builds the binaries
// and runs it.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	var o opts
	flag.StringVar(&o.work, "work", "/tmp/cutover-bench-embedded", "scratch directory holding the binaries")
	flag.StringVar(&o.etcd, "etcd", "etcd", "etcd binary for the external-etcd scenario")
	flag.IntVar(&o.runs, "runs", 10, "runs per scenario")
	flag.DurationVar(&o.settle, "settle", 3*time.Second, "wait after ready before reading RSS")
	flag.StringVar(&o.out, "out", "bench/embedded-etcd.md", "Markdown report")
	flag.StringVar(&o.raw, "raw", "bench/embedded/results.json", "raw results")
	flag.StringVar(&o.commit, "commit", "", "commit measured")
	flag.IntVar(&o.pkgsDefault, "pkgs-default", 0, "packages linked by the default build")
	flag.IntVar(&o.pkgsEmbedded, "pkgs-embedded", 0, "packages linked by the embedetcd build")
	flag.StringVar(&o.only, "only", "", "run only the scenarios whose name contains this (for a quick look; the report is partial)")
	from := flag.String("from", "", "write the report from this results file instead of measuring")
	flag.Parse()
	var r *results
	var err error
	if *from != "" {
		r = &results{}
		b, rerr := os.ReadFile(*from)
		if rerr == nil {
			rerr = json.Unmarshal(b, r)
		}
		if rerr != nil {
			log.Fatal(rerr)
		}
		if err := os.WriteFile(o.out, []byte(report(r)), 0o644); err != nil {
			log.Fatal(err)
		}
		return
	}
	r, err = run(o)
	if err != nil {
		log.Fatal(err)
	}
	b, _ := json.MarshalIndent(r, "", "  ")
	if err := os.WriteFile(o.raw, append(b, '\n'), 0o644); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(o.out, []byte(report(r)), 0o644); err != nil {
		log.Fatal(err)
	}
}

type opts struct {
	work, etcd, out, raw, commit, only string
	runs                               int
	settle                             time.Duration
	pkgsDefault, pkgsEmbedded          int
}

// results is everything measured.
type results struct {
	Date      time.Time           `json:"date"`
	Commit    string              `json:"commit"`
	GoVersion string              `json:"go"`
	Machine   machine             `json:"machine"`
	Loadavg   []string            `json:"loadavg"`
	Sizes     map[string]int64    `json:"sizes_bytes"`
	Packages  map[string]int      `json:"packages"`
	EtcdBin   string              `json:"etcd_binary"`
	Runs      int                 `json:"runs"`
	Settle    time.Duration       `json:"settle_ns"`
	Init      map[string]initCost `json:"init"`
	Scenarios []scenarioResult    `json:"scenarios"`
}

// initCost is what a binary spends before main: the package init
// functions as GODEBUG=inittrace=1 reports them, and the wall time of
// `cutover version` (exec, init, print, exit).
type initCost struct {
	InitMS    []float64 `json:"init_ms"`
	InitBytes []float64 `json:"init_bytes"`
	VersionMS []float64 `json:"version_ms"`
}

// measureInit runs `bin version` n times with GODEBUG=inittrace=1.
func measureInit(bin string, n int) (initCost, error) {
	var ic initCost
	for range n + 1 { // the first run is not counted: it pays for the page cache
		cmd := exec.Command(bin, "version")
		cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
		var errb bytes.Buffer
		cmd.Stderr = &errb
		t0 := time.Now()
		if err := cmd.Run(); err != nil {
			return ic, fmt.Errorf("%s version: %w", bin, err)
		}
		wall := time.Since(t0)
		var clock, alloc float64
		lines := 0
		for line := range strings.SplitSeq(errb.String(), "\n") {
			// init PKG @T ms, C ms clock, B bytes, A allocs
			f := strings.Fields(line)
			if len(f) >= 8 && f[0] == "init" {
				c, _ := strconv.ParseFloat(f[4], 64)
				b, _ := strconv.ParseFloat(f[7], 64)
				clock, alloc, lines = clock+c, alloc+b, lines+1
			}
		}
		if lines == 0 {
			return ic, fmt.Errorf("%s: no inittrace output", bin)
		}
		ic.InitMS = append(ic.InitMS, clock)
		ic.InitBytes = append(ic.InitBytes, alloc)
		ic.VersionMS = append(ic.VersionMS, ms(wall))
	}
	ic.InitMS, ic.InitBytes, ic.VersionMS = ic.InitMS[1:], ic.InitBytes[1:], ic.VersionMS[1:]
	return ic, nil
}

// sample is one cutover serve process of one run.
type sample struct {
	// Ready is exec → the ready line of serve -o json (listeners, admin
	// API and fleet membership up).
	Ready time.Duration `json:"ready_ns"`
	// LBReady is exec → GET /.cutover/ready answers 200.
	LBReady time.Duration `json:"lb_ready_ns"`
	RSSKB   int64         `json:"rss_kb"`
	HWMKB   int64         `json:"hwm_kb"`
	// AnonKB is the private part of RSS (RssAnon); the rest is mostly
	// mapped files: the binary, and the member's data file.
	AnonKB int64 `json:"anon_kb"`
	// EtcdRSSKB is the external etcd's RSS at the same moment (external
	// scenario only).
	EtcdRSSKB int64 `json:"etcd_rss_kb,omitempty"`
}

type scenarioResult struct {
	Name    string     `json:"name"`
	Build   string     `json:"build"`
	Backend string     `json:"backend"`
	Members int        `json:"members"`
	Samples [][]sample `json:"samples"` // per run, per measured process
}

type scenario struct {
	name, build, backend string
	members              int
	restart              bool // restart member 0 of a running cluster and measure it
}

var scenarios = []scenario{
	{name: "default build, local backend", build: "cutover", backend: "local"},
	{name: "embedetcd build, local backend", build: "cutover-embedetcd", backend: "local"},
	{name: "embedetcd build, embedded backend, 1 member", build: "cutover-embedetcd", backend: "embedded", members: 1},
	{name: "embedetcd build, embedded backend, 3 members started together (first start)", build: "cutover-embedetcd", backend: "embedded", members: 3},
	{name: "embedetcd build, embedded backend, restart of 1 of 3 members", build: "cutover-embedetcd", backend: "embedded", members: 3, restart: true},
	{name: "default build, external etcd (1 member, already running)", build: "cutover", backend: "etcd", members: 1},
}

func run(o opts) (*results, error) {
	r := &results{Date: time.Now().UTC(), Commit: o.commit, GoVersion: runtime.Version(), Machine: readMachine(),
		Sizes: map[string]int64{}, Packages: map[string]int{"cutover": o.pkgsDefault, "cutover-embedetcd": o.pkgsEmbedded},
		Runs: o.runs, Settle: o.settle}
	for _, b := range []string{"cutover", "cutover-embedetcd", "cutover-stripped", "cutover-embedetcd-stripped"} {
		fi, err := os.Stat(filepath.Join(o.work, b))
		if err != nil {
			return nil, err
		}
		r.Sizes[b] = fi.Size()
	}
	if out, err := exec.Command(o.etcd, "--version").Output(); err == nil {
		r.EtcdBin = strings.SplitN(string(out), "\n", 2)[0]
	}
	r.Loadavg = append(r.Loadavg, "start: "+loadavg())
	r.Init = map[string]initCost{}
	for _, b := range []string{"cutover", "cutover-embedetcd"} {
		ic, err := measureInit(filepath.Join(o.work, b), 3*o.runs)
		if err != nil {
			return nil, err
		}
		r.Init[b] = ic
	}
	for _, sc := range scenarios {
		if !strings.Contains(sc.name, o.only) {
			continue
		}
		res := scenarioResult{Name: sc.name, Build: sc.build, Backend: sc.backend, Members: sc.members}
		// One run first, not counted: it pays for the page cache.
		if _, err := runOnce(o, sc, -1); err != nil {
			return nil, fmt.Errorf("%s, warm-up run: %w", sc.name, err)
		}
		for i := range o.runs {
			ss, err := runOnce(o, sc, i)
			if err != nil {
				return nil, fmt.Errorf("%s, run %d: %w", sc.name, i+1, err)
			}
			res.Samples = append(res.Samples, ss)
		}
		r.Scenarios = append(r.Scenarios, res)
		r.Loadavg = append(r.Loadavg, fmt.Sprintf("after %q: %s", sc.name, loadavg()))
		log.Printf("%s: done", sc.name)
	}
	return r, nil
}

// host is one cutover serve of a run.
type host struct {
	name, dir, cfg, http string
	cmd                  *exec.Cmd
	done                 chan struct{}
}

func runOnce(o opts, sc scenario, i int) ([]sample, error) {
	dir, err := os.MkdirTemp(o.work, "run-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(o.work, sc.build)
	var etcdCmd *exec.Cmd
	var endpoint string
	if sc.backend == "etcd" {
		if etcdCmd, endpoint, err = startEtcd(o.etcd, dir); err != nil {
			return nil, err
		}
		defer stop(etcdCmd)
	}
	n := max(sc.members, 1)
	members := map[string]string{}
	clients := map[string]string{}
	for j := range n {
		name := fmt.Sprintf("h%d", j+1)
		members[name] = "http://" + freeAddr()
		clients[name] = freeAddr()
	}
	hosts := make([]*host, n)
	for j := range n {
		h := &host{name: fmt.Sprintf("h%d", j+1), dir: filepath.Join(dir, fmt.Sprintf("h%d", j+1)), http: freeAddr()}
		if err := os.MkdirAll(h.dir, 0o700); err != nil {
			return nil, err
		}
		h.cfg = filepath.Join(h.dir, "cutover.yaml")
		if err := os.WriteFile(h.cfg, []byte(configFor(h, bin, sc.backend, endpoint, members, clients[h.name])), 0o600); err != nil {
			return nil, err
		}
		hosts[j] = h
	}
	defer func() {
		for _, h := range hosts {
			stopHost(h)
		}
	}()
	var wg sync.WaitGroup
	out := make([]sample, n)
	errs := make([]error, n)
	for j, h := range hosts {
		wg.Go(func() { out[j], errs[j] = start(bin, h, o.settle, etcdCmd) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if !sc.restart {
		return out, nil
	}
	h := hosts[0]
	stopHost(h)
	s, err := start(bin, h, o.settle, nil)
	if err != nil {
		return nil, fmt.Errorf("restart: %w", err)
	}
	return []sample{s}, nil
}

func configFor(h *host, bin, backend, endpoint string, members map[string]string, client string) string {
	var cluster string
	switch backend {
	case "etcd":
		cluster = fmt.Sprintf("cluster:\n  backend: etcd\n  endpoints: [%q]\n  name: %s\n", endpoint, h.name)
	case "embedded":
		cluster = fmt.Sprintf("cluster:\n  backend: embedded\n  name: %s\n  client_listen: %q\n  members:\n", h.name, client)
		names := make([]string, 0, len(members))
		for n := range members {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			cluster += fmt.Sprintf("    %s: %q\n", n, members[n])
		}
	}
	_, p1, _ := net.SplitHostPort(freeAddr())
	_, p2, _ := net.SplitHostPort(freeAddr())
	return fmt.Sprintf(`listen:
  http: %q
admin:
  socket: %q
state_dir: %q
access_log: false
%sservices:
  shop:
    runtime: process
    process:
      command: %q
      args: ["sample-app", "--version", "{{.Version}}", "--port", "{{.Port}}"]
    ports: [%s, %s]
`, h.http, filepath.Join(h.dir, "admin.sock"), filepath.Join(h.dir, "state"), cluster, bin, p1, p2)
}

// start runs one cutover serve and measures it.
func start(bin string, h *host, settle time.Duration, etcd *exec.Cmd) (sample, error) {
	var s sample
	logf, err := os.Create(filepath.Join(h.dir, "serve.log"))
	if err != nil {
		return s, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "serve", "-c", h.cfg, "-o", "json")
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return s, err
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return s, err
	}
	h.cmd, h.done = cmd, make(chan struct{})
	done := h.done
	ready := make(chan time.Duration, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if bytes.Contains(sc.Bytes(), []byte(`"ready":true`)) {
				ready <- time.Since(t0)
			}
		}
		_ = cmd.Wait()
		close(done)
	}()
	select {
	case s.Ready = <-ready:
	case <-done:
		return s, fmt.Errorf("%s exited before ready:\n%s", h.name, tailFile(logf.Name(), 10))
	case <-time.After(60 * time.Second):
		return s, fmt.Errorf("%s not ready within 60s:\n%s", h.name, tailFile(logf.Name(), 10))
	}
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for time.Since(t0) < 60*time.Second {
		resp, err := c.Get("http://" + h.http + "/.cutover/ready")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				s.LBReady = time.Since(t0)
				break
			}
		}
		time.Sleep(2 * time.Millisecond) // polling an HTTP endpoint: no event to wait on
	}
	if s.LBReady == 0 {
		return s, fmt.Errorf("%s: ready endpoint not 200 within 60s", h.name)
	}
	time.Sleep(settle) // a fixed idle period before the memory reading, by design
	m, err := readMem(cmd.Process.Pid)
	if err != nil {
		return s, err
	}
	s.RSSKB, s.HWMKB, s.AnonKB = m.rss, m.hwm, m.anon
	if etcd != nil {
		if em, err := readMem(etcd.Process.Pid); err == nil {
			s.EtcdRSSKB = em.rss
		}
	}
	return s, nil
}

// startEtcd starts a one-member etcd on loopback and waits until it serves.
func startEtcd(bin, dir string) (*exec.Cmd, string, error) {
	client, peer := "http://"+freeAddr(), "http://"+freeAddr()
	cmd := exec.Command(bin, "--name", "m0", "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "m0="+peer, "--log-level", "error", "--logger", "zap")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	c := &http.Client{Timeout: time.Second}
	for start := time.Now(); time.Since(start) < 30*time.Second; time.Sleep(20 * time.Millisecond) {
		resp, err := c.Get(client + "/health")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if bytes.Contains(b, []byte(`"true"`)) {
				return cmd, client, nil
			}
		}
	}
	stop(cmd)
	return nil, "", errors.New("etcd did not become healthy within 30s")
}

// stopHost ends a host's cutover serve with SIGTERM (SIGKILL after 10s).
func stopHost(h *host) {
	if h.cmd == nil {
		return
	}
	_ = h.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-h.done:
	case <-time.After(10 * time.Second):
		_ = h.cmd.Process.Kill()
		<-h.done
	}
	h.cmd = nil
}

// stop ends a process this program waits for itself.
func stop(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	t := time.AfterFunc(10*time.Second, func() { _ = cmd.Process.Kill() })
	defer t.Stop()
	_ = cmd.Wait()
}

// nextPort hands out ports below the kernel's ephemeral range (32768 on
// Linux by default): the members' outgoing connections take ephemeral
// ports, which could be one picked for a host that has not bound it yet.
var (
	portMu   sync.Mutex
	nextPort = 20000 + os.Getpid()%5000
)

func freeAddr() string {
	portMu.Lock()
	defer portMu.Unlock()
	for ; nextPort < 32768; nextPort++ {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", nextPort))
		if err != nil {
			continue
		}
		l.Close()
		nextPort++
		return l.Addr().String()
	}
	log.Fatal("no free port below 32768")
	return ""
}

// tailFile returns the last n lines of a file.
func tailFile(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

type mem struct{ rss, hwm, anon int64 }

func readMem(pid int) (mem, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return mem{}, err
	}
	var m mem
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmRSS":
			m.rss = n
		case "VmHWM":
			m.hwm = n
		case "RssAnon":
			m.anon = n
		}
	}
	if m.rss == 0 {
		return m, fmt.Errorf("no VmRSS for pid %d", pid)
	}
	return m, nil
}
