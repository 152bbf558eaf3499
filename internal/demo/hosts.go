package demo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cutover-dev/cutover/internal/deploy"
	"github.com/cutover-dev/cutover/internal/server"
	"github.com/cutover-dev/cutover/internal/store"
)

type releaseStatus = deploy.ReleaseStatus

// ErrNoEtcd reports a many-hosts demo with nothing to coordinate through:
// this binary has no embedded etcd and no etcd binary is in PATH.
var ErrNoEtcd = errors.New(`cutover demo --hosts needs etcd, and this cutover binary was built without the embedded etcd server.
Either:
  install etcd (the demo starts its own on loopback):  sudo apt-get install etcd-server
  or use the build with embedded etcd:                 go run -tags ` + server.EmbeddedEtcdBuildTag + ` ./cmd/cutover demo --hosts 3
The one-host demo needs neither: cutover demo`)

// ErrDemoCheck reports a many-hosts demo whose deploys did not end all or
// none.
var ErrDemoCheck = errors.New("the fleet did not switch all or none")

// MaxHosts is the most hosts the demo runs.
const MaxHosts = 5

// HostsSummary is what the many-hosts demo measured.
type HostsSummary struct {
	Hosts []string `json:"hosts"`
	// Coordination says what the hosts coordinated through.
	Coordination string `json:"coordination"`
	Requests     int64  `json:"requests"`
	Failed       int64  `json:"failed"`
	// PerHost counts responses by host and version.
	PerHost  map[string]map[string]int64 `json:"per_host"`
	Flip     FlipSummary                 `json:"flip"`
	Abort    AbortSummary                `json:"abort"`
	Duration time.Duration               `json:"duration_ns"`
	Errors   []string                    `json:"errors,omitempty"`
}

// FlipSummary is the deploy every host prepares before one commit
// switches them all.
type FlipSummary struct {
	From    string        `json:"from"`
	Version string        `json:"version"`
	Outcome store.Outcome `json:"outcome"`
	// Prepared and Switched name the hosts, in the order they reported.
	Prepared []string `json:"prepared"`
	// Commits counts commit points (one: a single etcd transaction).
	Commits  int      `json:"commits"`
	Revision int64    `json:"revision"`
	Switched []string `json:"switched"`
	// LastSwitch is commit → the last host's acknowledgement, as the
	// coordinator measured it.
	LastSwitch time.Duration `json:"last_switch_ns"`
	// MixedWindow is how long two versions answered, as the load measured
	// it (the largest of PerHost's Mixed).
	MixedWindow time.Duration         `json:"mixed_window_ns"`
	PerHost     map[string]HostSwitch `json:"per_host"`
	// ServingAfter is the version each host serves once it ended.
	ServingAfter map[string]string `json:"serving_after"`
}

// AbortSummary is the deploy of a version that fails its health check on
// one host: no host may serve it, and nothing of it may be left running.
type AbortSummary struct {
	Version string        `json:"version"`
	Outcome store.Outcome `json:"outcome"`
	// UnhealthyOn is the host where the version fails its health check.
	UnhealthyOn string `json:"unhealthy_on"`
	Error       string `json:"error"`
	// Prepared names the hosts that had it ready when the deploy aborted.
	Prepared []string `json:"prepared"`
	// Undone names the hosts that removed what they had started.
	Undone []string `json:"undone"`
	// Served counts responses from Version (0 when none or all held).
	Served int64 `json:"served"`
	// Left counts its instances still running, per host, after the abort.
	Left map[string]int `json:"left"`
	// ServingAfter is the version each host serves once it ended.
	ServingAfter map[string]string `json:"serving_after"`
}

// runHosts is the demo with opts.Hosts cutover serve processes.
func runHosts(ctx context.Context, opts Options) error {
	n := opts.Hosts
	if n < 2 || n > MaxHosts {
		return fmt.Errorf("--hosts %d: give 2 to %d (or leave it out for the one-host demo)", n, MaxHosts)
	}
	etcdBin := ""
	if !server.HasEmbeddedEtcd() {
		bin, err := exec.LookPath("etcd")
		if err != nil {
			return ErrNoEtcd
		}
		etcdBin = bin
	}
	dir, err := os.MkdirTemp("", "cutover-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p := newPrinter(opts.Out, opts.JSON)
	var sum HostsSummary

	var etcd *etcdProcess
	if etcdBin != "" {
		if etcd, err = startEtcdBinary(ctx, etcdBin, dir); err != nil {
			return fmt.Errorf("start etcd for the demo: %w", err)
		}
		defer etcd.stop()
		sum.Coordination = fmt.Sprintf("etcd %s (%s) on %s with a temporary data dir", etcd.version, etcdBin, etcd.client)
	} else {
		sum.Coordination = fmt.Sprintf("embedded etcd: the %d cutover serve processes are the etcd cluster", n)
	}
	hosts, err := writeHostConfigs(dir, opts.Self, n, etcd)
	if err != nil {
		return err
	}
	for _, h := range hosts {
		sum.Hosts = append(sum.Hosts, h.name)
	}
	p.say("cutover demo --hosts %d: %d cutover serve processes on this machine, one fleet; a deploy that switches every host at one commit, then one that fails on %s and aborts everywhere",
		n, n, hosts[n-1].name)
	p.say("coordination: %s", sum.Coordination)

	defer cleanupHosts(hosts)
	if err := startHosts(ctx, hosts, opts.Self); err != nil {
		return err
	}
	for _, h := range hosts {
		p.say("%s: cutover serve on http://%s (admin socket %s)", h.name, h.http, h.sock)
	}
	runErr := hostsScript(ctx, hosts, dir, p, &sum)
	p.hostsSummary(sum)
	if runErr != nil {
		return runErr
	}
	if sum.Failed > 0 {
		return fmt.Errorf("%w: %d of %d", ErrFailedRequests, sum.Failed, sum.Requests)
	}
	return checkHosts(sum)
}

// checkHosts verifies the all-or-none outcome the demo shows.
func checkHosts(s HostsSummary) error {
	n := len(s.Hosts)
	var bad []string
	f, a := s.Flip, s.Abort
	if f.Outcome != store.OutcomeDeployed || len(f.Prepared) != n || f.Commits != 1 || len(f.Switched) != n {
		bad = append(bad, fmt.Sprintf("%s: %s, prepared %d/%d, %d commit(s), switched %d/%d", f.Version, f.Outcome, len(f.Prepared), n, f.Commits, len(f.Switched), n))
	}
	for h, v := range f.ServingAfter {
		if v != f.Version {
			bad = append(bad, fmt.Sprintf("%s serves %s after the deploy of %s", h, v, f.Version))
		}
	}
	if a.Outcome == store.OutcomeDeployed || a.Served > 0 {
		bad = append(bad, fmt.Sprintf("%s: %s, %d response(s) from it", a.Version, a.Outcome, a.Served))
	}
	for h, k := range a.Left {
		if k > 0 {
			bad = append(bad, fmt.Sprintf("%s still runs %d instance(s) of %s", h, k, a.Version))
		}
	}
	for h, v := range a.ServingAfter {
		if v != f.Version {
			bad = append(bad, fmt.Sprintf("%s serves %s after the aborted deploy", h, v))
		}
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		return fmt.Errorf("%w: %s", ErrDemoCheck, strings.Join(bad, "; "))
	}
	return nil
}

// writeHostConfigs writes one cutover.yaml per host. The service block is
// the same on every host (the fleet refuses a host whose config differs),
// but for its ports; the app reads its extra flags per version and host
// from the flags directory (a file setting FLAGS), which is how one host
// gets a bad version.
func writeHostConfigs(dir, self string, n int, etcd *etcdProcess) ([]*demoHost, error) {
	// Per host: public, 3 app ports (active, standby, new), etcd client, etcd peer.
	const perHost = 6
	ports, err := belowEphemeralPorts(perHost * n)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "flags"), 0o700); err != nil {
		return nil, err
	}
	var members, cluster strings.Builder
	for i := range n {
		fmt.Fprintf(&members, "    h%d: \"http://127.0.0.1:%d\"\n", i+1, ports[perHost*i+5])
	}
	// Shell builtins only: the demo needs nothing in PATH.
	script := fmt.Sprintf(`f=%q/flags/"$1"-"$%s"; FLAGS=; [ -f "$f" ] && . "$f"; exec "$0" sample-app --version "$1" --port "$2" --start-delay 300ms $FLAGS`, dir, hostEnv)
	hosts := make([]*demoHost, n)
	for i := range n {
		h := &demoHost{name: fmt.Sprintf("h%d", i+1), dir: filepath.Join(dir, fmt.Sprintf("h%d", i+1))}
		if err := os.MkdirAll(h.dir, 0o700); err != nil {
			return nil, err
		}
		h.sock = filepath.Join(h.dir, "admin.sock")
		h.http = fmt.Sprintf("127.0.0.1:%d", ports[perHost*i])
		h.ports = [3]int{ports[perHost*i+1], ports[perHost*i+2], ports[perHost*i+3]}
		cluster.Reset()
		if etcd != nil {
			fmt.Fprintf(&cluster, "  backend: etcd\n  endpoints: [%q]\n", etcd.client)
		} else {
			fmt.Fprintf(&cluster, "  backend: embedded\n  client_listen: \"127.0.0.1:%d\"\n  members:\n%s", ports[perHost*i+4], members.String())
		}
		y := fmt.Sprintf(`# cutover demo config of host %s
listen:
  http: %q
admin:
  socket: %q
state_dir: %q
access_log: false
cluster:
  name: %s
  prefix: "/cutover-demo/"
  lease_ttl: 3s
%sservices:
  shop:
    runtime: process
    process:
      command: /bin/sh
      args: ["-c", %q, %q, "{{.Version}}", "{{.Port}}"]
    ports: [%d, %d, %d]
    health:
      path: /healthz
      interval: 100ms
      timeout: 1s
      healthy_threshold: 2
      unhealthy_threshold: 2
    drain_timeout: 10s
    deploy_timeout: 4s
    standby: 30s
    stop_grace: 5s
`, h.name, h.http, h.sock, filepath.Join(h.dir, "state"), h.name, cluster.String(), script, self, h.ports[0], h.ports[1], h.ports[2])
		h.cfg = filepath.Join(h.dir, "cutover.yaml")
		if err := os.WriteFile(h.cfg, []byte(y), 0o600); err != nil {
			return nil, err
		}
		hosts[i] = h
	}
	return hosts, nil
}

// startHosts starts every host's cutover serve at once (embedded etcd
// members need a quorum of them to start).
func startHosts(ctx context.Context, hosts []*demoHost, self string) error {
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	errs := make([]error, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Go(func() {
			if errs[i] = h.startServe(sctx, self); errs[i] != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("start the demo's hosts: %w", err)
	}
	return nil
}

// cleanupHosts stops every cutover serve, then the app instances they
// leave running by design, so the demo leaves no process behind.
func cleanupHosts(hosts []*demoHost) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var pids []int
	for _, h := range hosts {
		pids = append(pids, h.instancePIDs(ctx)...)
	}
	// The last member of an embedded cluster has no quorum left to revoke
	// its lease against and would wait for that to time out; the demo's
	// fleet is thrown away, so it is not waited for.
	var wg sync.WaitGroup
	for _, h := range hosts {
		wg.Go(func() { h.stopServe(3 * time.Second) })
	}
	wg.Wait()
	stopInstances(pids, 5*time.Second)
}
