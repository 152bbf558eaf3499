package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/coord"
	etcdstore "github.com/cutover-dev/cutover/internal/coord/etcd"
	"github.com/cutover-dev/cutover/internal/deploy"
	"github.com/cutover-dev/cutover/internal/etcdtest"
	"github.com/cutover-dev/cutover/internal/store"
)

// benchOutEnv names a directory the fleet benchmark writes its raw
// per-deploy figures to (one JSON file per fleet size); bench/fleet/run.sh
// sets it and puts them in its report.
const benchOutEnv = "CUTOVER_FLEETBENCH_OUT"

// BenchmarkFleetCommit runs fleets of simulated hosts (one Agent and fake
// host each, every agent on its own etcd connection) in this process
// against the etcd binary (one member, loopback, its own data dir), and
// deploys one version after another, each coordinated by the next host.
// One iteration is one deploy. It reports, as p50/p99 over the
// iterations: the commit → last host switched time the coordinator puts in
// its done event (switch-us), the time from the commit transaction's start
// to the last host's switch as the stored records tell (txn-to-last-us),
// the time from the first host's switch to the last one's (spread-us), the
// prepare phase and the whole deploy. Past maxCompares hosts the
// commit goes through batch checks, and commit-checks counts them. Run it
// with a fixed count, e.g.
//
//	go test -run '^$' -bench FleetCommit -benchtime 20x ./internal/fleet/
func BenchmarkFleetCommit(b *testing.B) {
	for _, n := range []int{50, 100, 150} {
		b.Run(fmt.Sprintf("agents=%d", n), func(b *testing.B) { benchFleet(b, n) })
	}
}

// benchDeploy is what one measured deploy looked like.
type benchDeploy struct {
	ID    string `json:"id"`
	Hosts int    `json:"hosts"`
	// SwitchUS is last_switch_us of the done event.
	SwitchUS int64 `json:"switch_us"`
	// TxnToLastUS is the latest switched ack's At minus the committed
	// state's At (stamped just before the commit transaction).
	TxnToLastUS int64 `json:"txn_to_last_us"`
	// SpreadUS is the latest switched ack's At minus the earliest one's.
	SpreadUS int64 `json:"spread_us"`
	// PrepareUS is from the Deploy call to the committed state's At.
	PrepareUS int64 `json:"prepare_us"`
	// TotalUS is from the Deploy call to the done event.
	TotalUS int64 `json:"total_us"`
	// Checks is how many batch checks the commit wrote (0: one transaction).
	Checks int `json:"checks"`
}

// benchRun is one fleet size's result, as written to benchOutEnv.
type benchRun struct {
	Agents  int           `json:"agents"`
	Deploys []benchDeploy `json:"deploys"`
	// SingleTxnRefused reports that etcd refused one transaction comparing
	// every host's prepared report (what the batches avoid); empty when
	// the fleet fits in one transaction.
	SingleTxnRefused string `json:"single_txn_refused,omitempty"`
	// CPUPerHostDeployMS is this process's CPU time (user+system) over the
	// measured deploys, per deploy and host: what one host spends on one
	// deploy (etcd's own CPU is not in it).
	CPUPerHostDeployMS float64 `json:"cpu_ms_per_host_deploy"`
	// Cores is that CPU time divided by the wall time of the measured
	// deploys: how many cores the fleet kept busy on average.
	Cores float64 `json:"cores"`
	// Failed says why each deploy that did not switch every host failed.
	Failed []string `json:"failed,omitempty"`
	// LeaseTTL is the simulated hosts' lease TTL.
	LeaseTTL time.Duration `json:"lease_ttl_ns"`
}

// benchLeaseTTL is the simulated hosts' lease TTL: longer than the
// default, because every host of the fleet shares this one machine's CPUs
// (and etcd's), and a renewal that waits that long for a CPU would take a
// host out of the fleet; the commit path measured here does not depend on
// it.
const benchLeaseTTL = 30 * time.Second

func benchFleet(b *testing.B, n int) {
	if _, err := exec.LookPath("etcd"); err != nil {
		b.Fatal("the etcd binary is required (apt-get install etcd-server)")
	}
	ec := etcdtest.StartBinary(b, etcdtest.BinaryOptions{Members: 1})
	eps := ec.Endpoints()
	const prefix = "/bench/"
	sims := make([]benchHost, n)
	var wg sync.WaitGroup
	errs := make([]error, n)
	sem := make(chan struct{}, 8)
	for i := range sims {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			st, err := etcdstore.Open(context.Background(), etcdstore.Options{Endpoints: eps, DialTimeout: 5 * time.Second, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				errs[i] = err
				return
			}
			name := fmt.Sprintf("h%03d", i+1)
			h := newFakeHost(name)
			a, err := NewAgent(AgentOptions{
				Store: st, Name: name, Host: h, Prefix: prefix, Logger: slog.New(slog.DiscardHandler),
				LeaseTTL: benchLeaseTTL, CommitTimeout: time.Minute,
			})
			if err == nil {
				err = a.Start(context.Background())
			}
			if err != nil {
				errs[i] = err
				_ = st.Close()
				return
			}
			sims[i] = benchHost{host: h, agent: a}
			b.Cleanup(func() {
				_ = a.Close()
				_ = st.Close()
			})
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	obs := newCommitObserver(b, eps, prefix)
	allReady := func() {
		b.Helper()
		for _, s := range sims {
			waitUntil(b, time.Minute, func() (bool, string) {
				ok, why := s.agent.Ready()
				return ok, s.agent.Name() + " not ready: " + why
			})
		}
	}
	allReady()
	run := benchRun{Agents: n, LeaseTTL: benchLeaseTTL}
	if n > maxCompares {
		run.SingleTxnRefused = singleTxnRefusal(b, obs.st, prefix, n)
	}
	// deployOnce runs one deploy; a deploy that does not switch every host
	// is an error naming why.
	deployOnce := func(i int, version string) (benchDeploy, error) {
		b.Helper()
		s := sims[i%n]
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		t0 := time.Now()
		id, err := s.agent.Deploy(ctx, DeployRequest{Service: "web", Version: version, PrepareTimeout: time.Minute})
		if err != nil {
			b.Fatalf("deploy %s: %v", version, err)
		}
		ev, err := s.host.done(ctx, id)
		if err != nil {
			b.Fatalf("deploy %s did not end: %v", version, err)
		}
		tDone := time.Now()
		defer func() {
			allReady()
			time.Sleep(100 * time.Millisecond) // pacing: let trailing record updates land before the next deploy
		}()
		if ev.Outcome != store.OutcomeDeployed {
			return benchDeploy{}, fmt.Errorf("deploy %s via %s ended %s after %s: %s; hosts that did not prepare: %s", version, s.agent.Name(),
				ev.Outcome, tDone.Sub(t0).Round(time.Millisecond), ev.Error, describeUnprepared(sims, id))
		}
		if got, _ := ev.Data["switched"].(int); got != n {
			return benchDeploy{}, fmt.Errorf("deploy %s via %s: %v of %d hosts switched after %s (lost %v); warnings: %s", version, s.agent.Name(),
				ev.Data["switched"], n, tDone.Sub(t0).Round(time.Millisecond), ev.Data["lost"], s.host.warnings(id))
		}
		rec := obs.wait(b, id, n)
		d := benchDeploy{
			ID: id, Hosts: n, TotalUS: tDone.Sub(t0).Microseconds(),
			TxnToLastUS: rec.lastAck.Sub(rec.commitAt).Microseconds(),
			SpreadUS:    rec.lastAck.Sub(rec.firstAck).Microseconds(),
			PrepareUS:   rec.commitAt.Sub(t0).Microseconds(),
			Checks:      rec.checks,
		}
		d.SwitchUS, _ = ev.Data["last_switch_us"].(int64)
		if n > maxCompares && d.Checks == 0 {
			b.Fatalf("deploy %s to %d hosts committed without batch checks", version, n)
		}
		return d, nil
	}
	if _, err := deployOnce(0, "v0"); err != nil { // warm-up: the first commit of the service
		b.Fatal(err)
	}
	cpu0, wall0 := processCPU(), time.Now()
	for i := 1; b.Loop(); i++ {
		d, err := deployOnce(i, fmt.Sprintf("v%d", i))
		if err != nil {
			b.Logf("deploy failed: %v", err)
			run.Failed = append(run.Failed, err.Error())
			continue
		}
		run.Deploys = append(run.Deploys, d)
	}
	if len(run.Deploys) == 0 {
		b.Fatalf("no deploy succeeded: %v", run.Failed)
	}
	cpu, wall := processCPU()-cpu0, time.Since(wall0)
	run.CPUPerHostDeployMS = float64(cpu.Microseconds()) / 1e3 / float64((len(run.Deploys)+len(run.Failed))*n)
	run.Cores = cpu.Seconds() / wall.Seconds()
	pick := func(f func(benchDeploy) int64) []float64 {
		out := make([]float64, len(run.Deploys))
		for i, d := range run.Deploys {
			out[i] = float64(f(d))
		}
		return out
	}
	sw := pick(func(d benchDeploy) int64 { return d.SwitchUS })
	txn := pick(func(d benchDeploy) int64 { return d.TxnToLastUS })
	spread := pick(func(d benchDeploy) int64 { return d.SpreadUS })
	prep := pick(func(d benchDeploy) int64 { return d.PrepareUS })
	total := pick(func(d benchDeploy) int64 { return d.TotalUS })
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(pctl(sw, 0.50), "switch-p50-us")
	b.ReportMetric(pctl(sw, 0.99), "switch-p99-us")
	b.ReportMetric(pctl(txn, 0.50), "txn-to-last-p50-us")
	b.ReportMetric(pctl(txn, 0.99), "txn-to-last-p99-us")
	b.ReportMetric(pctl(spread, 0.50), "spread-p50-us")
	b.ReportMetric(pctl(spread, 0.99), "spread-p99-us")
	b.ReportMetric(pctl(prep, 0.50)/1e3, "prepare-p50-ms")
	b.ReportMetric(pctl(total, 0.50)/1e3, "deploy-p50-ms")
	b.ReportMetric(pctl(total, 0.99)/1e3, "deploy-p99-ms")
	b.ReportMetric(float64(run.Deploys[0].Checks), "commit-checks")
	b.ReportMetric(run.CPUPerHostDeployMS, "cpu-ms/host-deploy")
	b.ReportMetric(float64(len(run.Failed)), "failed-deploys")
	if dir := os.Getenv(benchOutEnv); dir != "" {
		raw, _ := json.MarshalIndent(run, "", " ")
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("sim-%d.json", n)), raw, 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// benchHost is one simulated host.
type benchHost struct {
	host  *fakeHost
	agent *Agent
}

// describeUnprepared tells, for each host that did not prepare deploy id,
// what its agent saw of it.
func describeUnprepared(sims []benchHost, id string) string {
	var out []string
	for _, s := range sims {
		prepared := false
		for _, c := range s.host.calls() {
			if strings.HasPrefix(c.what, "prepared "+id+" ") {
				prepared = true
				break
			}
		}
		if prepared {
			continue
		}
		snap, _ := s.agent.view.read()
		fs := decodeState(snap)
		d := fs.deploys[id]
		s.agent.mu.Lock()
		status := "none"
		if lp := s.agent.plans[id]; lp != nil {
			status = strconv.Itoa(int(lp.status))
		}
		s.agent.mu.Unlock()
		reported := false
		if d != nil {
			_, reported = d.prepared[s.agent.Name()]
		}
		ok, why := s.agent.Ready()
		out = append(out, fmt.Sprintf("%s (view synced %t at revision %d, plan seen %t, lock %v, report in its view %t, local plan %s, ready %t %s)",
			s.agent.Name(), snap.synced, snap.rev, d != nil && d.plan != nil, fs.locks["web"].Deploy, d != nil && reported, status, ok, why))
	}
	return strings.Join(out, "; ")
}

// warnings returns the messages of operation id's warning events.
func (h *fakeHost) warnings(id string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, e := range h.events {
		if e.OpID == id && e.Type == deploy.EventWarn {
			out = append(out, e.Message)
		}
	}
	return strings.Join(out, "; ")
}

// singleTxnRefusal sends the transaction a commit without batches would
// be (one compare per host) and returns the store's refusal.
func singleTxnRefusal(b *testing.B, st coord.Store, prefix string, n int) string {
	b.Helper()
	var cmps []coord.Cmp
	for i := range n + 3 {
		cmps = append(cmps, coord.Missing(fmt.Sprintf("%sprobe/%d", prefix, i)))
	}
	_, err := st.Txn(context.Background(), coord.Txn{If: cmps, Then: []coord.Op{coord.Put(prefix+"probe/x", []byte("x"))}})
	if err == nil {
		b.Fatalf("etcd accepted a transaction of %d compares; is --max-txn-ops raised?", len(cmps))
	}
	return err.Error()
}

// processCPU returns the user and system CPU time of this process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pctl is the nearest-rank percentile p of xs.
func pctl(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// commitObserver follows the fleet's keys on its own connection and keeps,
// per deploy, the committed state's time, every switched ack's time and
// the batch checks of its commit.
type commitObserver struct {
	st   coord.Store
	keys keys

	mu      sync.Mutex
	deploys map[string]*observed
	changed chan struct{}
}

type observed struct {
	commitAt time.Time
	firstAck time.Time
	lastAck  time.Time
	acks     int
	checks   int
}

func newCommitObserver(b *testing.B, eps []string, prefix string) *commitObserver {
	b.Helper()
	st, err := etcdstore.Open(context.Background(), etcdstore.Options{Endpoints: eps, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	o := &commitObserver{st: st, keys: newKeys(prefix), deploys: map[string]*observed{}, changed: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	ch := st.Watch(ctx, prefix+"deploys/", 0)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for resp := range ch {
			o.apply(resp.Events)
		}
	}()
	b.Cleanup(func() {
		cancel()
		<-done
		_ = st.Close()
	})
	return o
}

func (o *commitObserver) apply(evs []coord.Event) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, ev := range evs {
		if ev.Type != coord.EventPut {
			continue
		}
		rest, _ := strings.CutPrefix(ev.KV.Key, o.keys.deploys())
		id, sub, _ := strings.Cut(rest, "/")
		d := o.deploys[id]
		if d == nil {
			d = &observed{}
			o.deploys[id] = d
		}
		switch {
		case sub == "state":
			if st, err := decode[State](ev.KV.Value); err == nil && st.Phase == PhaseCommitted {
				d.commitAt = st.At
			}
		case strings.HasPrefix(sub, "switched/"):
			if ack, err := decode[Ack](ev.KV.Value); err == nil {
				d.acks++
				if d.firstAck.IsZero() || ack.At.Before(d.firstAck) {
					d.firstAck = ack.At
				}
				if ack.At.After(d.lastAck) {
					d.lastAck = ack.At
				}
			}
		case strings.HasPrefix(sub, "checked/"):
			d.checks++
		}
	}
	close(o.changed)
	o.changed = make(chan struct{})
}

// wait returns deploy id's record once its commit and n acks were seen.
func (o *commitObserver) wait(b *testing.B, id string, n int) observed {
	b.Helper()
	t := time.NewTimer(30 * time.Second)
	defer t.Stop()
	for {
		o.mu.Lock()
		d, ch := o.deploys[id], o.changed
		var rec observed
		if d != nil {
			rec = *d
		}
		o.mu.Unlock()
		if !rec.commitAt.IsZero() && rec.acks >= n {
			return rec
		}
		select {
		case <-ch:
		case <-t.C:
			b.Fatalf("deploy %s: the observer saw commit %v and %d of %d acks", id, rec.commitAt, rec.acks, n)
		}
	}
}

// BenchmarkReadState is what an agent does on every change of the fleet:
// read the mirror and build the fleet's state from it, here for a fleet
// of n hosts in the middle of a deploy (every host prepared, half switched).
func BenchmarkReadState(b *testing.B) {
	for _, n := range []int{5, 50, 150} {
		b.Run(fmt.Sprintf("hosts=%d", n), func(b *testing.B) {
			v := newView(nil, newKeys("/bench/"), slog.New(slog.DiscardHandler))
			for _, kv := range benchKVs(n) {
				v.kvs[kv.Key] = v.mirror(kv)
			}
			v.synced = true
			for b.Loop() {
				snap, _ := v.read()
				if fs := decodeState(snap); len(fs.hosts) != n {
					b.Fatalf("%d hosts decoded, want %d", len(fs.hosts), n)
				}
			}
		})
	}
}

// benchKVs returns the keys of a fleet of n hosts during a deploy.
func benchKVs(n int) []coord.KV {
	k := newKeys("/bench/")
	now := time.Now()
	rev := int64(1)
	var out []coord.KV
	add := func(key string, v any) {
		rev++
		out = append(out, coord.KV{Key: key, Value: encode(v), CreateRevision: rev, ModRevision: rev, Version: 1})
	}
	var hosts []string
	for i := range n {
		h := fmt.Sprintf("h%03d", i+1)
		hosts = append(hosts, h)
		add(k.host(h), HostRecord{Name: h, Started: now, PID: 1000 + i, Ready: true, Services: map[string]Applied{"web": {Version: "v1", Rev: 2}}})
	}
	add(k.active("web"), Active{Version: "v1", Deploy: "d-0", Kind: KindDeploy, At: now})
	add(k.lock("web"), Lock{Deploy: "d-1", Kind: KindDeploy, Host: "h001", Since: now})
	add(k.plan("d-1"), Plan{ID: "d-1", Kind: KindDeploy, Service: "web", Version: "v2", From: "v1", Strategy: "switch", Hosts: hosts,
		ConfigDigest: "d", ConfigFields: map[string]string{"health": "h", "process": "p"}, Coordinator: "h001", ActiveRev: 2, Created: now, PrepareDeadline: now.Add(time.Minute)})
	add(k.state("d-1"), State{Phase: PhaseCommitted, At: now, By: "h001"})
	for i, h := range hosts {
		add(k.prepared("d-1", h), Prepared{Version: "v2", At: now})
		if i%2 == 0 {
			add(k.switched("d-1", h), Ack{At: now})
		}
	}
	return out
}
