package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/cutover-dev/cutover/internal/deploy"
	"github.com/cutover-dev/cutover/internal/store"
)

// Versions of the many-hosts demo.
const (
	hostsV1  = "v1" // before the load starts
	hostsV2  = "v2" // prepared everywhere, one commit
	hostsBad = "v3" // fails its health check on the last host
)

// hostsScript deploys v1, starts the load, flips the fleet to v2, then
// tries v3, which the last host cannot get healthy.
func hostsScript(ctx context.Context, hosts []*demoHost, dir string, p *printer, sum *HostsSummary) error {
	start := time.Now()
	names := make([]string, len(hosts))
	urls := make([]string, len(hosts))
	for i, h := range hosts {
		names[i], urls[i] = h.name, "http://"+h.http
	}
	coord := hosts[0]
	p.say("deploy %s through %s: nothing served yet", hostsV1, coord.name)
	if _, err := fleetDeploy(ctx, coord, hostsV1, p); err != nil {
		return err
	}

	l := newFleetLoad(names, urls)
	lctx, stopLoad := context.WithCancel(ctx)
	loadDone := make(chan struct{})
	go func() { defer close(loadDone); l.Run(lctx) }()
	ticker := startFleetTicker(lctx, l, p)
	stopped := false
	finish := func() {
		if stopped {
			return
		}
		stopped = true
		stopLoad()
		<-loadDone
		<-ticker
		sum.Requests, sum.Failed = l.total.Load(), l.failed.Load()
		sum.PerHost, sum.Errors = l.perHostVersion(), l.errors()
		sum.Duration = time.Since(start)
	}
	defer finish()
	p.say("load: %d clients, each request to the next host in turn (as a round-robin load balancer would); POSTs and new connections, never retried", l.workers)
	if err := waitLoad(ctx, l, func(ss []fleetSample) bool { return l.hostsAnswering(ss, hostsV1) == len(hosts) }, 0); err != nil {
		return err
	}
	if !settle(ctx, 1500*time.Millisecond) {
		return ctx.Err()
	}

	// The flip: prepared everywhere, one commit, switched everywhere.
	f := &sum.Flip
	f.From, f.Version = hostsV1, hostsV2
	p.say("deploy %s through %s: every host starts and health-checks it beside %s, then one commit switches them all", hostsV2, coord.name, hostsV1)
	at := l.mark()
	res, err := fleetDeploy(ctx, coord, hostsV2, p)
	if err != nil {
		return err
	}
	f.Outcome, f.Prepared, f.Switched, f.Commits, f.Revision, f.LastSwitch = res.outcome, res.prepared, res.switched, res.commits, res.revision, res.lastSwitch
	if res.outcome == store.OutcomeDeployed {
		if err := waitLoad(ctx, l, func(ss []fleetSample) bool { return l.hostsAnswering(ss, hostsV2) == len(hosts) }, at); err != nil {
			return err
		}
		if !settle(ctx, 300*time.Millisecond) { // responses to requests sent just before the flip
			return ctx.Err()
		}
		var ok bool
		f.PerHost, f.MixedWindow, ok = l.switchWindow(l.since(at), hostsV1, hostsV2, res.commitAt)
		if ok {
			p.mixedWindow(f, names)
		}
	}
	f.ServingAfter = serving(ctx, hosts)
	if !settle(ctx, 1500*time.Millisecond) {
		return ctx.Err()
	}

	// A version that never gets healthy on the last host.
	a := &sum.Abort
	bad := hosts[len(hosts)-1]
	a.Version, a.UnhealthyOn = hostsBad, bad.name
	if err := os.WriteFile(filepath.Join(dir, "flags", hostsBad+"-"+bad.name), []byte("FLAGS=--unhealthy\n"), 0o600); err != nil {
		return err
	}
	p.say("deploy %s through %s: on %s it answers its health check with 503, so no host may switch to it", hostsBad, coord.name, bad.name)
	at = l.mark()
	res, err = fleetDeploy(ctx, coord, hostsBad, p)
	if err != nil {
		return err
	}
	a.Outcome, a.Error, a.Prepared, a.Undone = res.outcome, res.err, res.prepared, res.undone
	a.Left = waitGone(ctx, hosts, hostsBad, 15*time.Second)
	a.ServingAfter = serving(ctx, hosts)
	if !settle(ctx, time.Second) {
		return ctx.Err()
	}
	finish()
	for _, s := range l.since(at) {
		if s.version == hostsBad {
			a.Served++
		}
	}
	p.say("after the abort: %d response(s) came from %s; every host serves %s; %s instances left running: %d",
		a.Served, hostsBad, servingList(a.ServingAfter), hostsBad, sumLeft(a.Left))
	return nil
}

// fleetResult is what one fleet deploy's events told.
type fleetResult struct {
	outcome                    store.Outcome
	err                        string
	prepared, switched, undone []string
	commits                    int
	revision                   int64
	commitAt                   time.Time
	lastSwitch                 time.Duration
}

// fleetDeploy deploys version through host h and prints the fleet's
// progress until the deploy ends.
func fleetDeploy(ctx context.Context, h *demoHost, version string, p *printer) (fleetResult, error) {
	var r fleetResult
	op, err := h.client.Deploy(ctx, deploy.DeployRequest{Service: "shop", Version: version})
	if err != nil {
		return r, fmt.Errorf("deploy %s through %s: %w", version, h.name, err)
	}
	stream, err := h.client.Events(ctx, "shop", op)
	if err != nil {
		return r, err
	}
	defer stream.Close()
	for {
		ev, err := stream.Next()
		if errors.Is(err, io.EOF) {
			return r, fmt.Errorf("deploy %s: the event stream ended before the deploy", version)
		}
		if err != nil {
			return r, err
		}
		host, _ := ev.Data["host"].(string)
		switch {
		case ev.Step == "prepare" && host != "" && !slices.Contains(r.prepared, host):
			r.prepared = append(r.prepared, host)
			p.fleetEvent(ev, fmt.Sprintf("%s prepared %s (%d/%d)", host, version, len(r.prepared), hostCount(ev)))
		case ev.Step == "commit" && ev.Type == deploy.EventStep:
			r.commits++
			r.commitAt = ev.Time
			if rev, ok := ev.Data["revision"].(float64); ok {
				r.revision = int64(rev)
			}
			p.fleetEvent(ev, ev.Message+": one etcd transaction for every host")
		case ev.Step == "switch" && host != "" && ev.Type == deploy.EventInfo:
			r.switched = append(r.switched, host)
			p.fleetEvent(ev, fmt.Sprintf("%s switched (%d/%d)", host, len(r.switched), hostCount(ev)))
		case ev.Step == "switch" && host == "" && ev.Type == deploy.EventStep && ev.Data["switch_us"] == nil:
			if us, ok := ev.Data["last_switch_us"].(float64); ok {
				r.lastSwitch = time.Duration(us) * time.Microsecond
			}
			p.fleetEvent(ev, ev.Message)
		case ev.Step == "undo" && host != "":
			r.undone = append(r.undone, host)
			p.fleetEvent(ev, ev.Message)
		case ev.Type == deploy.EventDone:
			r.outcome, r.err = ev.Outcome, ev.Error
			p.fleetEvent(ev, ev.Message)
			return r, nil
		case ev.Step == "undo", ev.Type == deploy.EventWarn, ev.Step == "accepted" && ev.Data["hosts"] != nil:
			p.fleetEvent(ev, ev.Message)
		default:
			p.fleetDetail(ev, h.name)
		}
	}
}

func hostCount(ev deploy.Event) int {
	n, _ := ev.Data["hosts"].(float64)
	return int(n)
}

// serving asks every host which version it serves.
func serving(ctx context.Context, hosts []*demoHost) map[string]string {
	out := map[string]string{}
	for _, h := range hosts {
		st, err := h.client.Status(ctx, "shop")
		switch {
		case err != nil:
			out[h.name] = "error: " + err.Error()
		case st.Active == nil:
			out[h.name] = ""
		default:
			out[h.name] = st.Active.Version
		}
	}
	return out
}

// waitGone waits until no host runs an instance of version (at most d)
// and returns how many each still runs.
func waitGone(ctx context.Context, hosts []*demoHost, version string, d time.Duration) map[string]int {
	deadline := time.Now().Add(d)
	for {
		left := map[string]int{}
		total := 0
		for _, h := range hosts {
			st, err := h.client.Status(ctx, "shop")
			if err != nil {
				left[h.name] = -1
				total++
				continue
			}
			for _, r := range []*releaseStatus{st.Active, st.Candidate, st.Standby} {
				if r != nil && r.Version == version {
					left[h.name] += len(r.Instances)
					total += len(r.Instances)
				}
			}
			if _, ok := left[h.name]; !ok {
				left[h.name] = 0
			}
		}
		if total == 0 || time.Now().After(deadline) || !settle(ctx, 100*time.Millisecond) {
			return left
		}
	}
}

// waitLoad waits until the responses since mark satisfy ok (at most 10s).
func waitLoad(ctx context.Context, l *fleetLoad, ok func([]fleetSample) bool, mark int) error {
	deadline := time.Now().Add(10 * time.Second)
	for !ok(l.since(mark)) {
		if time.Now().After(deadline) {
			return errors.New("the load did not see every host answer within 10s")
		}
		if !settle(ctx, 20*time.Millisecond) {
			return ctx.Err()
		}
	}
	return nil
}

// settle waits d unless ctx ends first; it reports whether ctx is live.
func settle(ctx context.Context, d time.Duration) bool {
	select {
	case <-time.After(d):
		return true
	case <-ctx.Done():
		return false
	}
}

// startFleetTicker prints the load's rate every 2s until ctx is done.
func startFleetTicker(ctx context.Context, l *fleetLoad, p *printer) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		var last int64
		lastAt := time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				total, failed := l.total.Load(), l.failed.Load()
				p.load(float64(total-last)/now.Sub(lastAt).Seconds(), total, failed)
				last, lastAt = total, now
			}
		}
	}()
	return done
}

func servingList(m map[string]string) string {
	vs := map[string]bool{}
	for _, v := range m {
		vs[v] = true
	}
	if len(vs) == 1 {
		for v := range vs {
			return v
		}
	}
	return fmt.Sprint(m)
}

func sumLeft(m map[string]int) int {
	n := 0
	for _, k := range m {
		n += k
	}
	return n
}
