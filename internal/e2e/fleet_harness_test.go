package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/coord"
	etcdstore "github.com/cutover-dev/cutover/internal/coord/etcd"
	"github.com/cutover-dev/cutover/internal/etcdtest"
	"github.com/cutover-dev/cutover/internal/testutil"
)

// fleetE2E is several cutover serve processes on one machine, each with
// its own state dir, admin socket, public port and app ports, sharing one
// etcd, behind one HAProxy that health-checks each ready endpoint.
type fleetE2E struct {
	t      *testing.T
	dir    string // shared: the app's per-host flags files live here
	prefix string
	etcd   []string // endpoints the hosts use
	hosts  []*env
	names  []string
	lb     string // HAProxy frontend address
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newFleet writes the configs of n hosts (h1..hn) using etcd at
// endpoints; endpointsOf, if not nil, gives one host's own endpoints (to
// put a fault proxy between it and etcd).
func newFleet(t *testing.T, n int, endpoints []string, endpointsOf func(i int) []string) *fleetE2E {
	t.Helper()
	return newFleetWith(t, n, endpoints, endpointsOf, "")
}

// newFleetWith is newFleet with more keys for the service (indented four
// spaces, e.g. a canary: block).
func newFleetWith(t *testing.T, n int, endpoints []string, endpointsOf func(i int) []string, serviceExtra string) *fleetE2E {
	t.Helper()
	dir, err := os.MkdirTemp("", "co-fleet-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	f := &fleetE2E{t: t, dir: dir, prefix: "/e2e-" + randHex(4) + "/", etcd: endpoints}
	script := fmt.Sprintf(`exec %s sample-app --version "$1" --port "$2" $(cat %s/flags-"$1"-"$E2E_HOST" 2>/dev/null)`, bin, dir)
	for i := range n {
		name := fmt.Sprintf("h%d", i+1)
		eps := endpoints
		if endpointsOf != nil {
			if e := endpointsOf(i); e != nil {
				eps = e
			}
		}
		hd := filepath.Join(dir, name)
		if err := os.MkdirAll(hd, 0o700); err != nil {
			t.Fatal(err)
		}
		e := &env{t: t, dir: hd, mark: "fleet-" + randHex(6), sock: filepath.Join(hd, "admin.sock")}
		e.http = fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
		e.ports = [2]int{testutil.FreePort(t), testutil.FreePort(t)}
		e.cfg = filepath.Join(hd, "cutover.yaml")
		e.extraEnv = []string{"E2E_MARK=" + e.mark, "E2E_HOST=" + name}
		quoted := make([]string, len(eps))
		for j, ep := range eps {
			quoted[j] = fmt.Sprintf("%q", ep)
		}
		y := fmt.Sprintf(`listen:
  http: %q
admin:
  socket: %q
state_dir: %q
access_log: false
cluster:
  backend: etcd
  endpoints: [%s]
  name: %s
  prefix: %q
  lease_ttl: 2s
services:
  shop:
    runtime: process
    process:
      command: /bin/sh
      args: ["-c", %q, "sh", "{{.Version}}", "{{.Port}}"]
    ports: [%d, %d]
    health:
      path: /healthz
      interval: 100ms
      timeout: 1s
      healthy_threshold: 2
      unhealthy_threshold: 2
    drain_timeout: 10s
    deploy_timeout: 15s
    standby: 120s
    stop_grace: 3s
`, e.http, e.sock, filepath.Join(hd, "state"), strings.Join(quoted, ", "), name, f.prefix, script, e.ports[0], e.ports[1]) + serviceExtra
		if err := os.WriteFile(e.cfg, []byte(y), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(e.cleanup)
		f.hosts = append(f.hosts, e)
		f.names = append(f.names, name)
	}
	return f
}

// startAll starts every host's cutover serve.
func (f *fleetE2E) startAll() {
	f.t.Helper()
	var wg sync.WaitGroup
	for _, h := range f.hosts {
		wg.Go(func() { h.start() })
	}
	wg.Wait()
}

// flags sets the sample app's flags of version on one host ("" = every host).
func (f *fleetE2E) flags(host, version, flags string) {
	f.t.Helper()
	for _, n := range f.names {
		if host != "" && n != host {
			continue
		}
		if err := os.WriteFile(filepath.Join(f.dir, "flags-"+version+"-"+n), []byte(flags), 0o600); err != nil {
			f.t.Fatal(err)
		}
	}
}

// host returns host i's env (0-based).
func (f *fleetE2E) host(i int) *env { return f.hosts[i] }

// ready asks a host's ready endpoint directly.
func (f *fleetE2E) ready(i int) (bool, string) {
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + f.hosts[i].http + "/.cutover/ready")
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode == 200, strings.TrimSpace(string(b))
}

// waitAllReady waits until every running host says ready.
func (f *fleetE2E) waitAllReady(d time.Duration) {
	f.t.Helper()
	for i, h := range f.hosts {
		if h.serve == nil {
			continue
		}
		waitFor(f.t, f.names[i]+" ready", d, func() bool { ok, _ := f.ready(i); return ok })
	}
}

// servedVersion asks a host's proxy directly which version it serves.
func (f *fleetE2E) servedVersion(i int) string {
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := c.Post("http://"+f.hosts[i].http+"/which", "text/plain", strings.NewReader("x"))
	if err != nil {
		return "error: " + err.Error()
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.Header.Get("X-Version")
}

// startLB starts HAProxy in front of every host, checking their ready
// endpoints with the settings the README recommends.
func (f *fleetE2E) startLB() {
	f.t.Helper()
	f.lb = f.startHAProxy("haproxy", "")
}

// startHAProxy starts one HAProxy in front of every host with the
// README's settings and backendExtra added to its backend, waits until
// every running host is in its pool and returns its frontend address.
func (f *fleetE2E) startHAProxy(name, backendExtra string) string {
	t := f.t
	t.Helper()
	path, err := exec.LookPath("haproxy")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("haproxy is required in CI (apt-get install haproxy)")
		}
		t.Skip("haproxy not installed")
	}
	addr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	var servers strings.Builder
	for i, h := range f.hosts {
		fmt.Fprintf(&servers, "  server %s %s check inter 200ms fall 2 rise 2\n", f.names[i], h.http)
	}
	cfg := fmt.Sprintf(`global
  maxconn 4096
defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  retries 0
frontend fe
  bind %s
  default_backend be
backend be
  balance roundrobin
  option httpchk GET /.cutover/ready
  http-check expect status 200
  http-response set-header X-Served-By %%s
%s%s`, addr, backendExtra, servers.String())
	file := filepath.Join(f.dir, name+".cfg")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	log := &testutil.SyncBuffer{}
	cmd := exec.Command(path, "-db", "-f", file)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s log:\n%s", name, log)
		}
	})
	waitFor(t, name+" listening", 10*time.Second, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	// Every running host in the pool.
	waitFor(t, "every host in "+name+"'s pool", 20*time.Second, func() bool {
		seen := map[string]bool{}
		for range 40 {
			if s, _, ok := lbOnce(addr); ok {
				seen[s] = true
			}
		}
		for i, h := range f.hosts {
			if h.serve != nil && !seen[f.names[i]] {
				return false
			}
		}
		return true
	})
	return addr
}

// lbOnce sends one request through the load balancer at addr on a new
// connection.
func lbOnce(addr string) (host, version string, ok bool) {
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := c.Post("http://"+addr+"/which", "text/plain", strings.NewReader("x"))
	if err != nil {
		return "", "", false
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.Header.Get("X-Served-By"), resp.Header.Get("X-Version"), resp.StatusCode == 200
}

// sample is one response the recorder saw.
type sample struct {
	start, end time.Time
	host       string
	version    string
	err        string // transport error or non-2xx status
}

// recorder sends POSTs through the load balancer from several workers
// (half on keep-alive connections, half on new ones; a POST with a body is
// never retried by Go's client) and keeps every response.
type recorder struct {
	workers int
	mu      sync.Mutex
	samples []sample
	cancel  context.CancelFunc
	done    chan struct{}
}

func startRecorder(t *testing.T, url string, workers int) *recorder {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &recorder{workers: workers, cancel: cancel, done: make(chan struct{})}
	var wg sync.WaitGroup
	for w := range workers {
		keep := w%2 == 0
		wg.Go(func() {
			tr := &http.Transport{DisableKeepAlives: !keep, MaxIdleConnsPerHost: 1}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			for n := 0; ctx.Err() == nil && n < 1_000_000; n++ {
				s := sample{start: time.Now()}
				resp, err := c.Post(url+"/which", "text/plain", bytes.NewReader([]byte("ping")))
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					s.err = err.Error()
				} else {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					s.host, s.version = resp.Header.Get("X-Served-By"), resp.Header.Get("X-Version")
					if resp.StatusCode/100 != 2 {
						s.err = resp.Status
					}
				}
				s.end = time.Now()
				r.mu.Lock()
				r.samples = append(r.samples, s)
				r.mu.Unlock()
				time.Sleep(2 * time.Millisecond) // pacing, not synchronisation
			}
		})
	}
	go func() { wg.Wait(); close(r.done) }()
	t.Cleanup(r.stop)
	return r
}

func (r *recorder) stop() {
	r.cancel()
	<-r.done
}

// mark returns the number of samples so far (to slice one phase).
func (r *recorder) mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.samples)
}

func (r *recorder) since(i int) []sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.samples[i:])
}

// failures returns the failed samples.
func failures(ss []sample) []sample {
	var out []sample
	for _, s := range ss {
		if s.err != "" {
			out = append(out, s)
		}
	}
	return out
}

// mixedWindow is how long two versions answered at once around a switch
// from old to new: from the end of the first response by new to the start
// of the last request answered by old (0 when every old answer began
// before the first new answer ended).
func mixedWindow(ss []sample, old, new string) time.Duration {
	var firstNewEnd, lastOldStart time.Time
	for _, s := range ss {
		if s.err != "" {
			continue
		}
		if s.version == new && (firstNewEnd.IsZero() || s.end.Before(firstNewEnd)) {
			firstNewEnd = s.end
		}
		if s.version == old && s.start.After(lastOldStart) {
			lastOldStart = s.start
		}
	}
	if firstNewEnd.IsZero() || lastOldStart.Before(firstNewEnd) {
		return 0
	}
	return lastOldStart.Sub(firstNewEnd)
}

// byHostVersion counts successful responses per host and version.
func byHostVersion(ss []sample) map[string]map[string]int {
	out := map[string]map[string]int{}
	for _, s := range ss {
		if s.err != "" {
			continue
		}
		if out[s.host] == nil {
			out[s.host] = map[string]int{}
		}
		out[s.host][s.version]++
	}
	return out
}

// etcdOne starts a one-member etcd from the Debian binary.
func etcdOne(t *testing.T) *etcdtest.Cluster {
	t.Helper()
	return etcdtest.StartBinary(t, etcdtest.BinaryOptions{Members: 1})
}

// keyWatch follows the fleet's keys in etcd from the test, so a fault can
// be injected at a protocol event (a host's prepared report, the commit)
// instead of after a guessed delay.
type keyWatch struct {
	t      *testing.T
	st     *etcdstore.Store
	ch     <-chan coord.WatchResponse
	queue  []coord.Event
	cancel context.CancelFunc
}

// watchKeys watches every key of the fleet from now on.
func (f *fleetE2E) watchKeys() *keyWatch {
	t := f.t
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st, err := etcdstore.Open(ctx, etcdstore.Options{Endpoints: f.etcd})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	w := &keyWatch{t: t, st: st, ch: st.Watch(ctx, f.prefix, 0), cancel: cancel}
	t.Cleanup(w.close)
	return w
}

func (w *keyWatch) close() {
	w.cancel()
	_ = w.st.Close()
}

// await returns the next event that match accepts, within d.
func (w *keyWatch) await(what string, d time.Duration, match func(coord.Event) bool) coord.Event {
	w.t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		for len(w.queue) > 0 {
			ev := w.queue[0]
			w.queue = w.queue[1:]
			if match(ev) {
				return ev
			}
		}
		select {
		case resp, ok := <-w.ch:
			if !ok || resp.Err != nil {
				w.t.Fatalf("watching etcd for %s: the watch ended: %v", what, resp.Err)
			}
			w.queue = append(w.queue, resp.Events...)
		case <-timer.C:
			w.t.Fatalf("timed out after %s waiting for %s in etcd", d, what)
		}
	}
}

// exists reports whether key (under the fleet's prefix) is stored now.
func (w *keyWatch) exists(key string) bool {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, found, _, err := w.st.Get(ctx, key)
	if err != nil {
		w.t.Fatal(err)
	}
	return found
}

// readyProbe polls one host's ready endpoint and then its served version
// until it first answers 200, recording every 200 answered while the host
// served another version than want (a 200 is only allowed once the host
// applied want, and it never goes back).
type readyProbe struct {
	done    chan struct{}
	readyAt time.Time
	wrong   []string // "ready while serving X"
	notYet  int      // 503 or no answer
}

func (f *fleetE2E) probeReady(i int, want string) *readyProbe {
	p := &readyProbe{done: make(chan struct{})}
	stop := make(chan struct{})
	f.t.Cleanup(func() { close(stop); <-p.done })
	go func() {
		defer close(p.done)
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			select {
			case <-stop:
				return
			default:
			}
			ok, _ := f.ready(i)
			if !ok {
				p.notYet++
				time.Sleep(10 * time.Millisecond) // polling another process's state
				continue
			}
			at := time.Now()
			if v := f.servedVersion(i); v != want {
				if !strings.HasPrefix(v, "error: ") {
					p.wrong = append(p.wrong, "ready while serving "+v)
				}
				time.Sleep(10 * time.Millisecond)
				continue
			}
			p.readyAt = at
			return
		}
	}()
	return p
}

// wait returns when the host first answered ready serving want (zero
// time: never, within the probe's minute).
func (p *readyProbe) wait() time.Time {
	<-p.done
	return p.readyAt
}

// pidsOf returns the PIDs of a host's live instances of version.
func (e *env) pidsOf(version string) []int {
	var out []int
	for _, p := range e.instances() {
		if p.version == version {
			out = append(out, p.pid)
		}
	}
	slices.Sort(out)
	return out
}

// doneEvent is the last event of a `cutover deploy -o json` run.
type doneEvent struct {
	Type    string `json:"type"`
	Outcome string `json:"outcome"`
	Message string `json:"message"`
	Data    struct {
		Lost         []string `json:"lost"`
		Switched     int      `json:"switched"`
		Hosts        int      `json:"hosts"`
		LastSwitchUS int64    `json:"last_switch_us"`
	} `json:"data"`
}

// doneOf finds the done event in JSON event lines.
func doneOf(t *testing.T, out string) doneEvent {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		var ev doneEvent
		if json.Unmarshal([]byte(line), &ev) == nil && ev.Type == "done" {
			return ev
		}
	}
	t.Fatalf("no done event in the output:\n%s", out)
	return doneEvent{}
}
