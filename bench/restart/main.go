// Command restartbench measures what a restart or an upgrade of the proxy
// costs, for cutover, nginx and HAProxy in the same run:
//
//   - restart-to-serving: the proxy process is killed with SIGKILL and
//     started again; the time from starting it to the first request
//     answered 200 (a client polling every millisecond on new
//     connections), over N restarts. cutover is measured idle and with a
//     deploy interrupted while its new version (which ignores SIGTERM, with
//     the default stop_grace of 10s) is being gated; with -before, a
//     cutover binary built before serving-first restarts is measured too.
//   - failed requests per upgrade: clients send POST bodies over keep-alive
//     connections and requests over new connections, never retried, while
//     the proxy replaces its process N times: `cutover upgrade`; nginx
//     `kill -USR2` then `kill -QUIT` to the old master; HAProxy started
//     anew with `-x <stats socket> -sf <old pid>`.
//
// It writes a Markdown report with the machine and the date, and the raw
// numbers as JSON. bench/restart/run.sh builds what it needs and runs it.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/cutover-dev/cutover/internal/loadgen"
)

type options struct {
	bin, before, nginx, haproxy, backend string
	work, out, raw, commit               string
	restarts, beforeRestarts, upgrades   int
	workers                              int
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "", "cutover binary (required)")
	flag.StringVar(&o.before, "before", "", "cutover binary built before serving-first restarts (optional)")
	flag.StringVar(&o.nginx, "nginx", "/usr/sbin/nginx", "nginx binary (absolute: USR2 re-executes it)")
	flag.StringVar(&o.haproxy, "haproxy", "/usr/sbin/haproxy", "haproxy binary")
	flag.StringVar(&o.backend, "backend", "", "bench/backend binary (required)")
	flag.StringVar(&o.work, "work", "/tmp/cutover-bench-restart", "scratch directory")
	flag.StringVar(&o.out, "out", "bench/RESTART.md", "report")
	flag.StringVar(&o.raw, "raw", "bench/restart/results.json", "raw results")
	flag.StringVar(&o.commit, "commit", "", "commit measured, for the report")
	flag.IntVar(&o.restarts, "restarts", 20, "kill -9 restarts per subject")
	flag.IntVar(&o.beforeRestarts, "before-restarts", 5, "kill -9 restarts of the -before binary (each waits for a stop grace)")
	flag.IntVar(&o.upgrades, "upgrades", 20, "upgrades per proxy")
	flag.IntVar(&o.workers, "workers", 32, "concurrent clients during upgrades (half keep-alive POST, half new connections)")
	flag.Parse()
	if o.bin == "" || o.backend == "" {
		fmt.Fprintln(os.Stderr, "restartbench: -bin and -backend are required")
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "restartbench:", err)
		os.Exit(1)
	}
}

// results is everything measured.
type results struct {
	Date     string         `json:"date"`
	Machine  machine        `json:"machine"`
	Commit   string         `json:"commit"`
	Restarts []restartRow   `json:"restarts"`
	Upgrades []upgradeRow   `json:"upgrades"`
	Params   map[string]any `json:"params"`
}

type restartRow struct {
	Subject string    `json:"subject"`
	Samples []float64 `json:"samples_ms"`
	Note    string    `json:"note,omitempty"`
}

type upgradeRow struct {
	Subject  string   `json:"subject"`
	Upgrades int      `json:"upgrades"`
	Requests int64    `json:"requests"`
	Failed   []int64  `json:"failed_per_upgrade"`
	Refused  []int64  `json:"refused_per_upgrade"`
	Errors   []string `json:"errors,omitempty"`
	Note     string   `json:"note,omitempty"`
}

func run(o options) error {
	if err := os.RemoveAll(o.work); err != nil {
		return err
	}
	if err := os.MkdirAll(o.work, 0o755); err != nil {
		return err
	}
	res := results{Date: time.Now().UTC().Format(time.RFC3339), Machine: readMachine(), Commit: o.commit,
		Params: map[string]any{"restarts": o.restarts, "before_restarts": o.beforeRestarts, "upgrades": o.upgrades, "workers": o.workers}}
	backendAddr, stopBackend, err := startBackend(o)
	if err != nil {
		return err
	}
	defer stopBackend()

	log := func(format string, args ...any) { fmt.Fprintf(os.Stderr, "restartbench: "+format+"\n", args...) }
	for _, sc := range []struct {
		name, bin string
		n         int
		midDeploy bool
	}{
		{"cutover, idle", o.bin, o.restarts, false},
		{"cutover, mid-deploy (new version gating, ignores SIGTERM, stop_grace 10s)", o.bin, o.restarts, true},
		{"cutover before serving-first restarts, idle", o.before, o.beforeRestarts, false},
		{"cutover before serving-first restarts, mid-deploy (same)", o.before, o.beforeRestarts, true},
	} {
		if sc.bin == "" {
			continue
		}
		log("restarts: %s", sc.name)
		row, err := cutoverRestarts(o, sc.bin, sc.n, sc.midDeploy)
		if err != nil {
			return fmt.Errorf("%s: %w", sc.name, err)
		}
		row.Subject = sc.name
		res.Restarts = append(res.Restarts, row)
	}
	log("restarts: nginx")
	row, err := nginxRestarts(o, backendAddr)
	if err != nil {
		return fmt.Errorf("nginx restarts: %w", err)
	}
	res.Restarts = append(res.Restarts, row)
	log("restarts: haproxy")
	if row, err = haproxyRestarts(o, backendAddr); err != nil {
		return fmt.Errorf("haproxy restarts: %w", err)
	}
	res.Restarts = append(res.Restarts, row)

	log("upgrades: cutover")
	up, err := cutoverUpgrades(o, backendAddr)
	if err != nil {
		return fmt.Errorf("cutover upgrades: %w", err)
	}
	res.Upgrades = append(res.Upgrades, up)
	log("upgrades: nginx")
	if up, err = nginxUpgrades(o, backendAddr); err != nil {
		return fmt.Errorf("nginx upgrades: %w", err)
	}
	res.Upgrades = append(res.Upgrades, up)
	log("upgrades: haproxy")
	if up, err = haproxyUpgrades(o, backendAddr); err != nil {
		return fmt.Errorf("haproxy upgrades: %w", err)
	}
	res.Upgrades = append(res.Upgrades, up)

	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(o.raw, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(o.out, []byte(report(res)), 0o644)
}

// --- helpers ------------------------------------------------------------------

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startBackend starts the 100-byte backend the proxies forward to.
func startBackend(o options) (string, func(), error) {
	port, err := freePort()
	if err != nil {
		return "", nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(o.backend, "-addr", addr, "-name", "v1")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	if _, err := firstAnswer("http://"+addr+"/", time.Now(), 10*time.Second); err != nil {
		stop()
		return "", nil, fmt.Errorf("backend: %w", err)
	}
	return addr, stop, nil
}

// firstAnswer polls url over new connections, every millisecond while it
// cannot connect, until a request is answered 200, and returns the time
// since from.
func firstAnswer(url string, from time.Time, limit time.Duration) (time.Duration, error) {
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}
	deadline := from.Add(limit)
	for {
		resp, err := c.Post(url, "text/plain", strings.NewReader("x"))
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(from), nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("no 200 within %s: %v", limit, err)
		}
		time.Sleep(time.Millisecond)
	}
}

// alive reports whether pid runs (zombies count as exited).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || !strings.HasPrefix(s[i+1:], " Z")
}

// waitGone waits until pid has exited.
func waitGone(pid int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for alive(pid) {
		if time.Now().After(deadline) {
			return fmt.Errorf("pid %d still running after %s", pid, limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// children returns the pids whose parent is pid.
func children(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, p)
		}
	}
	return out
}

func readPID(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// waitFor waits until cond holds.
func waitFor(what string, limit time.Duration, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// load runs the upgrade clients until stop is called and hands out totals.
type load struct {
	l    *loadgen.Load
	stop func()
}

func startLoad(url string, workers int) *load {
	l := loadgen.New(loadgen.Options{URL: url, Workers: workers})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx) }()
	return &load{l: l, stop: func() { cancel(); <-done }}
}

// snapshot returns the totals so far.
func (l *load) snapshot() (total, failed, refused int64) {
	t, f, _, _ := l.l.Totals()
	return t, f, l.l.Refused()
}

// measureUpgrades runs n upgrades under load against url and counts the
// failures between the start of each and the exit of its old process.
func measureUpgrades(name, url string, o options, upgrade func() error) (upgradeRow, error) {
	row := upgradeRow{Subject: name, Upgrades: o.upgrades}
	ld := startLoad(url, o.workers)
	time.Sleep(time.Second) // warm up: connections opened, pools filled
	for range o.upgrades {
		_, f0, r0 := ld.snapshot()
		if err := upgrade(); err != nil {
			ld.stop()
			return row, err
		}
		time.Sleep(300 * time.Millisecond) // failures of the old process's last moments land here
		_, f1, r1 := ld.snapshot()
		row.Failed = append(row.Failed, f1-f0)
		row.Refused = append(row.Refused, r1-r0)
	}
	ld.stop()
	total, _, _, errs := ld.l.Totals()
	row.Requests, row.Errors = total, errs
	return row, nil
}

// --- cutover ------------------------------------------------------------------

// cutoverEnv is one cutover installation under the work directory. The
// command line is always this checkout's (cli), whatever binary serves.
type cutoverEnv struct {
	bin, cliBin, dir, cfg, sock, addr string
	cmd                               *exec.Cmd
	log                               *os.File
}

func newCutover(o options, bin, name, service string) (*cutoverEnv, error) {
	dir := filepath.Join(o.work, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	e := &cutoverEnv{bin: bin, cliBin: o.bin, dir: dir, cfg: filepath.Join(dir, "cutover.yaml"), sock: filepath.Join(dir, "admin.sock"),
		addr: "127.0.0.1:" + strconv.Itoa(port)}
	y := fmt.Sprintf("listen:\n  http: %q\nadmin:\n  socket: %q\nstate_dir: %q\naccess_log: false\nservices:\n%s",
		e.addr, e.sock, filepath.Join(dir, "state"), service)
	if err := os.WriteFile(e.cfg, []byte(y), 0o600); err != nil {
		return nil, err
	}
	if e.log, err = os.Create(filepath.Join(dir, "serve.log")); err != nil {
		return nil, err
	}
	return e, nil
}

// start starts cutover serve and returns at once.
func (e *cutoverEnv) start() error {
	e.cmd = exec.Command(e.bin, "serve", "-c", e.cfg)
	e.cmd.Stdout, e.cmd.Stderr = e.log, e.log
	return e.cmd.Start()
}

// waitServing waits for the admin API.
func (e *cutoverEnv) waitServing() error {
	return waitFor("cutover serve", 60*time.Second, func() bool {
		c, err := net.Dial("unix", e.sock)
		if err != nil {
			return false
		}
		c.Close()
		if e.cli("status") != nil {
			time.Sleep(50 * time.Millisecond)
			return false
		}
		return true
	})
}

func (e *cutoverEnv) cli(args ...string) error {
	cmd := exec.Command(e.cliBin, args...)
	cmd.Env = append(os.Environ(), "CUTOVER_ADMIN=unix://"+e.sock)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("cutover %v: %v: %s", args, err, out)
	}
	return nil
}

func (e *cutoverEnv) kill9() {
	_ = e.cmd.Process.Kill()
	_ = e.cmd.Wait()
}

// phase returns the recorded phase of shop's operation.
func (e *cutoverEnv) phase() string {
	cmd := exec.Command(e.cliBin, "status", "shop", "-o", "json")
	cmd.Env = append(os.Environ(), "CUTOVER_ADMIN=unix://"+e.sock)
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	var st struct {
		Op *struct {
			Phase string `json:"phase"`
		} `json:"op"`
	}
	if json.Unmarshal(out, &st) != nil || st.Op == nil {
		return ""
	}
	return st.Op.Phase
}

// cleanup kills cutover and every app instance the env started.
func (e *cutoverEnv) cleanup(mark string) {
	if e.cmd != nil && e.cmd.Process != nil {
		_ = e.cmd.Process.Kill()
		_ = e.cmd.Wait()
	}
	if pid, err := readPID(filepath.Join(e.dir, "state", "cutover.pid")); err == nil {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, pid := range marked(mark) {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	e.log.Close()
}

// marked returns the pids of processes whose environment holds mark.
func marked(mark string) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "environ"))
		if err == nil && strings.Contains(string(b), "BENCH_MARK="+mark+"\x00") {
			out = append(out, pid)
		}
	}
	return out
}

// cutoverRestarts kills cutover serve n times and measures each restart.
func cutoverRestarts(o options, bin string, n int, midDeploy bool) (restartRow, error) {
	name := fmt.Sprintf("restart-%d-%t-%s", n, midDeploy, filepath.Base(filepath.Dir(bin)))
	mark := name
	// The app is always this checkout's sample app (it knows --ignore-sigterm).
	flags := filepath.Join(o.work, name+"-flags")
	if err := os.MkdirAll(flags, 0o755); err != nil {
		return restartRow{}, err
	}
	script := fmt.Sprintf(`exec %s sample-app --version "$1" --port "$2" $(cat %s/"$1" 2>/dev/null)`, o.bin, flags)
	lo, err := freePort()
	if err != nil {
		return restartRow{}, err
	}
	// A wide port range: interrupted versions retire in the background
	// for their stop grace while the next deploy starts.
	lo = max(lo-lo%100, 20000)
	svc := fmt.Sprintf(`  shop:
    runtime: process
    process:
      command: /bin/sh
      args: ["-c", %q, "sh", "{{.Version}}", "{{.Port}}"]
      env:
        BENCH_MARK: %q
    port_range: "%d-%d"
    health:
      path: /healthz
      interval: 100ms
      timeout: 1s
      healthy_threshold: 2
    deploy_timeout: 120s
    stop_grace: 10s
`, script, mark, lo, lo+60)
	e, err := newCutover(o, bin, name, svc)
	if err != nil {
		return restartRow{}, err
	}
	defer e.cleanup(mark)
	if err := e.start(); err != nil {
		return restartRow{}, err
	}
	if err := e.waitServing(); err != nil {
		return restartRow{}, err
	}
	if err := e.cli("deploy", "shop", "v1"); err != nil {
		return restartRow{}, err
	}
	row := restartRow{}
	for i := range n {
		if midDeploy {
			v := fmt.Sprintf("n%d", i)
			if err := os.WriteFile(filepath.Join(flags, v), []byte("--start-delay 1h --ignore-sigterm"), 0o644); err != nil {
				return row, err
			}
			if err := e.cli("deploy", "shop", v, "--detach", "--wait", "--timeout", "5m"); err != nil {
				return row, err
			}
			if err := waitFor("the deploy to gate", 60*time.Second, func() bool { return e.phase() == "gating" }); err != nil {
				return row, err
			}
		}
		e.kill9()
		start := time.Now()
		if err := e.start(); err != nil {
			return row, err
		}
		d, err := firstAnswer("http://"+e.addr+"/", start, 120*time.Second)
		if err != nil {
			return row, err
		}
		row.Samples = append(row.Samples, ms(d))
		if err := e.waitServing(); err != nil {
			return row, err
		}
	}
	return row, nil
}

// cutoverUpgrades runs `cutover upgrade` under load, the service routed to
// the backend (static runtime).
func cutoverUpgrades(o options, backend string) (upgradeRow, error) {
	svc := fmt.Sprintf(`  shop:
    runtime: static
    static:
      targets:
        v1: [%q]
    health:
      type: tcp
`, backend)
	e, err := newCutover(o, o.bin, "upgrade", svc)
	if err != nil {
		return upgradeRow{}, err
	}
	defer e.cleanup("none")
	if err := e.start(); err != nil {
		return upgradeRow{}, err
	}
	if err := e.waitServing(); err != nil {
		return upgradeRow{}, err
	}
	if err := e.cli("deploy", "shop", "v1"); err != nil {
		return upgradeRow{}, err
	}
	pidFile := filepath.Join(e.dir, "state", "cutover.pid")
	return measureUpgrades("cutover (`cutover upgrade`)", "http://"+e.addr, o, func() error {
		old, err := readPID(pidFile)
		if err != nil {
			return err
		}
		if err := e.cli("upgrade"); err != nil {
			return err
		}
		return waitGone(old, 60*time.Second)
	})
}

// --- nginx ---------------------------------------------------------------------

const nginxConf = `user root;
worker_processes 1;
worker_rlimit_nofile 16384;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    client_body_temp_path %[1]s/client_body;
    proxy_temp_path %[1]s/proxy_temp;
    upstream backend { server %[3]s; keepalive 64; }
    server {
        listen 127.0.0.1:%[2]d;
        location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
`

type nginxEnv struct {
	bin, dir, conf string
	port           int
	seen           []int // every master seen, killed with its workers at the end
}

func newNginx(o options, backend, name string) (*nginxEnv, error) {
	dir := filepath.Join(o.work, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	n := &nginxEnv{bin: o.nginx, dir: dir, conf: filepath.Join(dir, "nginx.conf"), port: port}
	return n, os.WriteFile(n.conf, []byte(fmt.Sprintf(nginxConf, dir, port, backend)), 0o644)
}

// start starts nginx as a daemon (binary upgrades need it) and returns
// once the master has written its pid.
func (n *nginxEnv) start() error {
	out, err := exec.Command(n.bin, "-c", n.conf).CombinedOutput()
	if err != nil {
		return fmt.Errorf("nginx: %v: %s", err, out)
	}
	return nil
}

func (n *nginxEnv) master() int {
	pid, _ := readPID(filepath.Join(n.dir, "nginx.pid"))
	if pid > 0 && !slices.Contains(n.seen, pid) {
		n.seen = append(n.seen, pid)
	}
	return pid
}

// killAll kills every master seen and its workers with SIGKILL.
func (n *nginxEnv) killAll() {
	n.master()
	var all []int
	for _, m := range n.seen {
		if alive(m) {
			all = append(all, m)
			all = append(all, children(m)...)
		}
	}
	for _, p := range all {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	for _, p := range all {
		_ = waitGone(p, 10*time.Second)
	}
	n.seen = nil
	_ = os.Remove(filepath.Join(n.dir, "nginx.pid"))
	_ = os.Remove(filepath.Join(n.dir, "nginx.pid.oldbin"))
}

func nginxRestarts(o options, backend string) (restartRow, error) {
	n, err := newNginx(o, backend, "nginx-restart")
	if err != nil {
		return restartRow{}, err
	}
	defer n.killAll()
	row := restartRow{Subject: "nginx (kill -9 of master and worker, then start)"}
	for range o.restarts {
		n.killAll()
		start := time.Now()
		if err := n.start(); err != nil {
			return row, err
		}
		n.master()
		d, err := firstAnswer(fmt.Sprintf("http://127.0.0.1:%d/", n.port), start, 30*time.Second)
		if err != nil {
			return row, err
		}
		row.Samples = append(row.Samples, ms(d))
	}
	return row, nil
}

func nginxUpgrades(o options, backend string) (upgradeRow, error) {
	n, err := newNginx(o, backend, "nginx-upgrade")
	if err != nil {
		return upgradeRow{}, err
	}
	defer n.killAll()
	if err := n.start(); err != nil {
		return upgradeRow{}, err
	}
	n.master()
	oldbin := filepath.Join(n.dir, "nginx.pid.oldbin")
	return measureUpgrades("nginx (`kill -USR2`, then `kill -QUIT` to the old master)", fmt.Sprintf("http://127.0.0.1:%d", n.port), o, func() error {
		old := n.master()
		if err := syscall.Kill(old, syscall.SIGUSR2); err != nil {
			return err
		}
		// The new master writes nginx.pid (the old one's is renamed
		// nginx.pid.oldbin) and starts its worker.
		if err := waitFor("the new nginx master and its worker", 30*time.Second, func() bool {
			m := n.master()
			_, err := os.Stat(oldbin)
			return err == nil && m != old && m > 0 && len(children(m)) > 0
		}); err != nil {
			return err
		}
		if err := syscall.Kill(old, syscall.SIGQUIT); err != nil {
			return err
		}
		return waitGone(old, 60*time.Second)
	})
}

// --- haproxy -------------------------------------------------------------------

const haproxyConf = `global
    nbthread 1
    maxconn 8000
    stats socket %[1]s/haproxy.sock mode 600 level admin expose-fd listeners
defaults
    mode http
    option http-keep-alive
    http-reuse always
    timeout connect 5s
    timeout client 300s
    timeout server 300s
    timeout http-keep-alive 300s
frontend bench
    bind 127.0.0.1:%[2]d
    default_backend app
backend app
    server app1 %[3]s
`

type haproxyEnv struct {
	bin, dir, conf, pid, sock string
	port                      int
}

func newHAProxy(o options, backend, name string) (*haproxyEnv, error) {
	dir := filepath.Join(o.work, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	h := &haproxyEnv{bin: o.haproxy, dir: dir, conf: filepath.Join(dir, "haproxy.cfg"), pid: filepath.Join(dir, "haproxy.pid"),
		sock: filepath.Join(dir, "haproxy.sock"), port: port}
	return h, os.WriteFile(h.conf, []byte(fmt.Sprintf(haproxyConf, dir, port, backend)), 0o644)
}

// start starts haproxy as a daemon; extra are added arguments (-x, -sf).
func (h *haproxyEnv) start(extra ...string) error {
	out, err := exec.Command(h.bin, append([]string{"-f", h.conf, "-p", h.pid, "-D"}, extra...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("haproxy: %v: %s", err, out)
	}
	return nil
}

func (h *haproxyEnv) current() int {
	pid, _ := readPID(h.pid)
	return pid
}

func (h *haproxyEnv) kill9() {
	if pid := h.current(); pid > 0 {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		_ = waitGone(pid, 10*time.Second)
	}
	_ = os.Remove(h.pid)
	_ = os.Remove(h.sock)
}

func haproxyRestarts(o options, backend string) (restartRow, error) {
	h, err := newHAProxy(o, backend, "haproxy-restart")
	if err != nil {
		return restartRow{}, err
	}
	defer h.kill9()
	row := restartRow{Subject: "HAProxy (kill -9, then start)"}
	for range o.restarts {
		h.kill9()
		start := time.Now()
		if err := h.start(); err != nil {
			return row, err
		}
		d, err := firstAnswer(fmt.Sprintf("http://127.0.0.1:%d/", h.port), start, 30*time.Second)
		if err != nil {
			return row, err
		}
		row.Samples = append(row.Samples, ms(d))
	}
	return row, nil
}

func haproxyUpgrades(o options, backend string) (upgradeRow, error) {
	h, err := newHAProxy(o, backend, "haproxy-upgrade")
	if err != nil {
		return upgradeRow{}, err
	}
	defer h.kill9()
	if err := h.start(); err != nil {
		return upgradeRow{}, err
	}
	return measureUpgrades("HAProxy (`-x <stats socket> -sf <old pid>`)", fmt.Sprintf("http://127.0.0.1:%d", h.port), o, func() error {
		old := h.current()
		if err := h.start("-x", h.sock, "-sf", strconv.Itoa(old)); err != nil {
			return err
		}
		return waitGone(old, 60*time.Second)
	})
}

// --- report --------------------------------------------------------------------

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// quantile returns the nearest-rank q-quantile of v.
func quantile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(v))
	i := int(q*float64(len(s))+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func sum(v []int64) int64 {
	var n int64
	for _, x := range v {
		n += x
	}
	return n
}

func report(r results) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Restarts and upgrades: cutover, nginx, HAProxy\n\n")
	fmt.Fprintf(&b, "Written by `bench/restart/run.sh` on %s.\n\n", r.Date)
	fmt.Fprintf(&b, "Machine: %d CPUs, %s, kernel %s, %s; load average at the end %s. Commit: %s.\n\n",
		r.Machine.NProc, r.Machine.CPU, r.Machine.Kernel, r.Machine.OS, loadavg(), r.Commit)
	fmt.Fprintf(&b, "## Restart to serving after kill -9\n\n")
	fmt.Fprintf(&b, "The proxy is killed with SIGKILL and started again at once; the time is from starting the new process to the\n")
	fmt.Fprintf(&b, "first request answered 200 (a client polling every millisecond over new connections). cutover's \"mid-deploy\"\n")
	fmt.Fprintf(&b, "restarts kill it while a new version, which ignores SIGTERM (stop_grace 10s), is being gated.\n\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 1, ' ', tabwriter.Debug)
	fmt.Fprintln(tw, "| subject\t restarts\t p50 ms\t p99 ms\t max ms\t")
	fmt.Fprintln(tw, "|---\t---\t---\t---\t---\t")
	for _, row := range r.Restarts {
		fmt.Fprintf(tw, "| %s\t %d\t %.1f\t %.1f\t %.1f\t\n", row.Subject, len(row.Samples), quantile(row.Samples, 0.5),
			quantile(row.Samples, 0.99), quantile(row.Samples, 1))
	}
	tw.Flush()
	fmt.Fprintf(&b, "\n## Failed requests per upgrade\n\n")
	fmt.Fprintf(&b, "%d clients (half POST a 512-byte body over keep-alive connections, half open a new connection per request;\n", r.Params["workers"])
	fmt.Fprintf(&b, "nothing is retried) run against the proxy while it replaces its own process %d times; each upgrade's window\n", r.Params["upgrades"])
	fmt.Fprintf(&b, "runs from its start to 300 ms after its old process exited. The upstream is a 100-byte Go backend.\n\n")
	tw = tabwriter.NewWriter(&b, 0, 0, 1, ' ', tabwriter.Debug)
	fmt.Fprintln(tw, "| upgrade\t upgrades\t requests\t failed\t refused\t failed per upgrade (mean / max)\t")
	fmt.Fprintln(tw, "|---\t---\t---\t---\t---\t---\t")
	for _, row := range r.Upgrades {
		f := sum(row.Failed)
		mx := int64(0)
		for _, x := range row.Failed {
			mx = max(mx, x)
		}
		fmt.Fprintf(tw, "| %s\t %d\t %d\t %d\t %d\t %.1f / %d\t\n", row.Subject, row.Upgrades, row.Requests, f, sum(row.Refused),
			float64(f)/float64(max(row.Upgrades, 1)), mx)
	}
	tw.Flush()
	for _, row := range r.Upgrades {
		if len(row.Errors) > 0 {
			fmt.Fprintf(&b, "\n%s failures: %s\n", row.Subject, strings.Join(row.Errors, "; "))
		}
	}
	fmt.Fprintf(&b, "\nRaw numbers: `bench/restart/results.json`.\n")
	return strings.ReplaceAll(b.String(), " |", "|")
}

// --- machine -------------------------------------------------------------------

type machine struct {
	NProc  int    `json:"nproc"`
	CPU    string `json:"cpu"`
	Kernel string `json:"kernel"`
	OS     string `json:"os"`
}

func readMachine() machine {
	m := machine{NProc: runtime.NumCPU(), CPU: "unknown", OS: "unknown"}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				m.OS = strings.Trim(v, `"`)
			}
		}
	}
	return m
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
