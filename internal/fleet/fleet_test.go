package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/coord"
	etcdstore "github.com/cutover-dev/cutover/internal/coord/etcd"
	"github.com/cutover-dev/cutover/internal/deploy"
	"github.com/cutover-dev/cutover/internal/etcdtest"
	"github.com/cutover-dev/cutover/internal/store"
)

const testTTL = 2 * time.Second // etcd's minimum lease TTL

// member is one host of a test fleet: an agent, its fake controller, and
// the fault proxy between it and etcd.
type member struct {
	name  string
	host  *fakeHost
	agent *Agent
	proxy *etcdtest.FaultProxy
	store coord.Store
}

type testFleet struct {
	t         *testing.T
	endpoints []string
	members   []*member
}

func newTestFleet(t *testing.T, n int) *testFleet {
	t.Helper()
	f := &testFleet{t: t, endpoints: etcdtest.Embedded(t)}
	for i := range n {
		f.add(fmt.Sprintf("h%d", i+1))
	}
	for _, m := range f.members {
		f.waitReady(m)
	}
	return f
}

// add starts one more member.
func (f *testFleet) add(name string) *member { return f.addHost(newFakeHost(name)) }

// addHost starts one more member on h.
func (f *testFleet) addHost(h *fakeHost) *member {
	t := f.t
	name := h.name
	px := etcdtest.ListenFaultProxy(t, strings.TrimPrefix(f.endpoints[0], "http://"))
	st, err := etcdstore.Open(context.Background(), etcdstore.Options{Endpoints: []string{"http://" + px.Addr()}, DialTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewAgent(AgentOptions{
		Store: st, Name: name, Host: h, LeaseTTL: testTTL, CommitTimeout: 10 * time.Second,
		Prefix: "/test/", Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	m := &member{name: name, host: h, agent: a, proxy: px, store: st}
	t.Cleanup(func() {
		_ = a.Close()
		_ = st.Close()
	})
	f.members = append(f.members, m)
	return m
}

func (f *testFleet) waitReady(m *member) {
	f.t.Helper()
	waitUntil(f.t, 10*time.Second, func() (bool, string) {
		ok, why := m.agent.Ready()
		return ok, m.name + " not ready: " + why
	})
}

// waitUntil polls cond until it holds or the timeout passes. Conditions
// here follow the state of several processes, with no single event to wait on.
func waitUntil(t testing.TB, d time.Duration, cond func() (bool, string)) {
	t.Helper()
	end := time.Now().Add(d)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("after %s: %s", d, why)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (f *testFleet) deploy(from *member, version string) (string, deploy.Event) {
	f.t.Helper()
	id, err := from.agent.Deploy(context.Background(), DeployRequest{Service: "web", Version: version, PrepareTimeout: 20 * time.Second})
	if err != nil {
		f.t.Fatalf("deploy %s: %v", version, err)
	}
	return id, f.wait(from, id)
}

func (f *testFleet) wait(from *member, id string) deploy.Event {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	ev, err := from.host.done(ctx, id)
	if err != nil {
		f.t.Fatalf("deploy %s did not end: %v", id, err)
	}
	return ev
}

func (f *testFleet) applied() map[string]string {
	out := map[string]string{}
	for _, m := range f.members {
		out[m.name] = m.host.Applied("web")
	}
	return out
}

func (f *testFleet) assertAll(version string) {
	f.t.Helper()
	for n, v := range f.applied() {
		if v != version {
			f.t.Fatalf("host %s serves %q, want %q (all: %v)", n, v, version, f.applied())
		}
	}
}

// TestAllOrNoneCommit: 5 hosts prepare, then all switch; no host switches
// before every host prepared.
func TestAllOrNoneCommit(t *testing.T) {
	f := newTestFleet(t, 5)
	_, ev := f.deploy(f.members[0], "v1")
	if ev.Outcome != store.OutcomeDeployed {
		t.Fatalf("v1: %s %s", ev.Outcome, ev.Error)
	}
	f.assertAll("v1")
	id, ev := f.deploy(f.members[2], "v2")
	if ev.Outcome != store.OutcomeDeployed {
		t.Fatalf("v2: %s %s", ev.Outcome, ev.Error)
	}
	f.assertAll("v2")
	var lastPrepared, firstCommit time.Time
	for _, m := range f.members {
		for _, c := range m.host.calls() {
			switch {
			case c.what == "prepared "+id+" v2" && c.at.After(lastPrepared):
				lastPrepared = c.at
			case c.what == "commit "+id+" v2" && (firstCommit.IsZero() || c.at.Before(firstCommit)):
				firstCommit = c.at
			}
		}
	}
	if lastPrepared.IsZero() || firstCommit.IsZero() || !firstCommit.After(lastPrepared) {
		t.Fatalf("a host switched before every host prepared: last prepared %v, first commit %v", lastPrepared, firstCommit)
	}
	for _, m := range f.members {
		f.waitReady(m)
	}
}

// TestPrepareFailureAbortsEverywhere: one host cannot prepare; no host
// switches and every host undoes.
func TestPrepareFailureAbortsEverywhere(t *testing.T) {
	f := newTestFleet(t, 5)
	f.deploy(f.members[0], "v1")
	bad := f.members[3]
	bad.host.mu.Lock()
	bad.host.failPrepare["v2"] = "instance exited with code 3"
	bad.host.mu.Unlock()
	id, ev := f.deploy(f.members[0], "v2")
	if ev.Outcome != store.OutcomeFailed || !strings.Contains(ev.Error, "h4") || !strings.Contains(ev.Error, "exited with code 3") {
		t.Fatalf("outcome %s error %q, want failed naming h4 and its reason", ev.Outcome, ev.Error)
	}
	f.assertAll("v1")
	for _, m := range f.members {
		committed := false
		for _, c := range m.host.calls() {
			if strings.HasPrefix(c.what, "commit "+id) {
				committed = true
			}
		}
		if committed {
			t.Fatalf("%s committed an aborted deploy", m.name)
		}
		m.host.mu.Lock()
		left := len(m.host.prepared)
		m.host.mu.Unlock()
		if left != 0 {
			t.Fatalf("%s kept what the aborted deploy started", m.name)
		}
	}
	// The lock is free again.
	if _, ev := f.deploy(f.members[1], "v3"); ev.Outcome != store.OutcomeDeployed {
		t.Fatalf("v3 after abort: %s %s", ev.Outcome, ev.Error)
	}
	f.assertAll("v3")
}

// TestConcurrentDeploysOneWins: two deploys of one service sent to two
// hosts at once: exactly one runs, the other is refused naming the holder.
func TestConcurrentDeploysOneWins(t *testing.T) {
	f := newTestFleet(t, 3)
	type res struct {
		id  string
		err error
		m   *member
	}
	out := make(chan res, 2)
	for i, m := range f.members[:2] {
		go func() {
			id, err := m.agent.Deploy(context.Background(), DeployRequest{Service: "web", Version: fmt.Sprintf("v%d", i+1), PrepareTimeout: 20 * time.Second})
			out <- res{id, err, m}
		}()
	}
	a, b := <-out, <-out
	if (a.err == nil) == (b.err == nil) {
		t.Fatalf("want exactly one deploy accepted: %v / %v", a.err, b.err)
	}
	busy, won := a.err, b
	if busy == nil {
		busy, won = b.err, a
	}
	if ev := f.wait(won.m, won.id); ev.Outcome != store.OutcomeDeployed {
		t.Fatalf("the accepted deploy: %s %s", ev.Outcome, ev.Error)
	}
	if !errors.Is(busy, deploy.ErrBusy) || !strings.Contains(busy.Error(), "coordinated by host") {
		t.Fatalf("refusal %v, want ErrBusy naming the holder", busy)
	}
}

// TestPartitionedHostFencedAndConverges: a host cut off from etcd is not
// ready within the lease TTL; the fleet commits without it (it is lost);
// on heal it converges before it is ready again.
func TestPartitionedHostFencedAndConverges(t *testing.T) {
	f := newTestFleet(t, 3)
	f.deploy(f.members[0], "v1")
	cut := f.members[2]
	cut.proxy.Blackhole()
	start := time.Now()
	waitUntil(t, testTTL+time.Second, func() (bool, string) {
		ok, _ := cut.agent.Ready()
		return !ok, "partitioned host still ready"
	})
	t.Logf("partitioned host not ready after %s", time.Since(start).Round(time.Millisecond))
	// Its lease expires on the server; a deploy then leaves it out.
	waitUntil(t, 3*testTTL, func() (bool, string) {
		_, ok := decodeState(first(f.members[0].agent.view.read())).hosts[cut.name]
		return !ok, "partitioned host still registered"
	})
	_, ev := f.deploy(f.members[0], "v2")
	if ev.Outcome != store.OutcomeDeployed {
		t.Fatalf("v2 without the partitioned host: %s %s", ev.Outcome, ev.Error)
	}
	if got := cut.host.Applied("web"); got != "v1" {
		t.Fatalf("partitioned host switched to %s without seeing the commit", got)
	}
	cut.proxy.Heal()
	f.waitReady(cut)
	if got := cut.host.Applied("web"); got != "v2" {
		t.Fatalf("healed host is ready serving %s, want v2", got)
	}
}

// TestLostHostDuringPrepareAborts: a host whose lease expires while it
// prepares aborts the deploy; with AllowLost it is dropped instead.
func TestLostHostDuringPrepareAborts(t *testing.T) {
	f := newTestFleet(t, 3)
	f.deploy(f.members[0], "v1")
	lost := f.members[1]
	lost.host.mu.Lock()
	lost.host.hangPrepare["v2"] = true
	lost.host.mu.Unlock()
	id, err := f.members[0].agent.Deploy(context.Background(), DeployRequest{Service: "web", Version: "v2", PrepareTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := lost.host.waitFor(ctx, func(h *fakeHost) bool {
		return len(h.log) > 0 && strings.HasPrefix(h.log[len(h.log)-1].what, "prepare "+id)
	}); err != nil {
		t.Fatal(err)
	}
	lost.proxy.Blackhole()
	ev := f.wait(f.members[0], id)
	if ev.Outcome != store.OutcomeFailed || !strings.Contains(ev.Error, "h2") || !strings.Contains(ev.Error, "lost") {
		t.Fatalf("outcome %s %q, want failed naming lost h2", ev.Outcome, ev.Error)
	}
	for _, m := range []*member{f.members[0], f.members[2]} {
		if v := m.host.Applied("web"); v != "v1" {
			t.Fatalf("%s serves %s after an aborted deploy", m.name, v)
		}
	}
	// Now with --allow-lost 1, the lost host is dropped.
	id, err = f.members[0].agent.Deploy(context.Background(), DeployRequest{Service: "web", Version: "v3", AllowLost: 1, PrepareTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ev = f.wait(f.members[0], id)
	if ev.Outcome != store.OutcomeDeployed {
		t.Fatalf("v3 with allow-lost: %s %s", ev.Outcome, ev.Error)
	}
	lost.proxy.Heal()
	f.waitReady(lost)
	if v := lost.host.Applied("web"); v != "v3" {
		t.Fatalf("returning host serves %s, want v3", v)
	}
}

// TestCoordinatorLostBeforeCommitIsUndone: the coordinating host is cut
// off during prepare; another host undoes the deploy everywhere.
func TestCoordinatorLostBeforeCommitIsUndone(t *testing.T) {
	f := newTestFleet(t, 3)
	f.deploy(f.members[0], "v1")
	for _, m := range f.members {
		m.host.mu.Lock()
		m.host.hangPrepare["v2"] = true
		m.host.mu.Unlock()
	}
	coordr := f.members[0]
	id, err := coordr.agent.Deploy(context.Background(), DeployRequest{Service: "web", Version: "v2", PrepareTimeout: 60 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, func() (bool, string) {
		for _, m := range f.members[1:] {
			if !strings.Contains(fmt.Sprint(m.host.calls()), "prepare "+id) {
				return false, m.name + " has not started preparing"
			}
		}
		return true, ""
	})
	coordr.proxy.Blackhole()
	// Another host takes over and aborts: both others undo.
	waitUntil(t, 4*testTTL, func() (bool, string) {
		for _, m := range f.members[1:] {
			if !strings.Contains(fmt.Sprint(m.host.calls()), "abort "+id) {
				return false, m.name + " has not undone the deploy"
			}
		}
		return true, ""
	})
	for _, m := range f.members {
		if v := m.host.Applied("web"); v != "v1" {
			t.Fatalf("%s serves %s", m.name, v)
		}
	}
	coordr.proxy.Heal()
	f.waitReady(coordr)
	for _, m := range f.members {
		m.host.mu.Lock()
		delete(m.host.hangPrepare, "v2")
		m.host.mu.Unlock()
	}
	if _, ev := f.deploy(f.members[1], "v2"); ev.Outcome != store.OutcomeDeployed {
		t.Fatalf("v2 after takeover: %s %s", ev.Outcome, ev.Error)
	}
	f.assertAll("v2")
}

// TestRollbackFleetWide: rollback is a second guarded commit to the
// previous version on every host.
func TestRollbackFleetWide(t *testing.T) {
	f := newTestFleet(t, 3)
	f.deploy(f.members[0], "v1")
	f.deploy(f.members[0], "v2")
	id, err := f.members[1].agent.Deploy(context.Background(), DeployRequest{Kind: KindRollback, Service: "web", PrepareTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if ev := f.wait(f.members[1], id); ev.Outcome != store.OutcomeDeployed {
		t.Fatalf("rollback: %s %s", ev.Outcome, ev.Error)
	}
	f.assertAll("v1")
}

// TestConfigMismatchRefused: a host whose service config differs refuses
// to prepare, naming itself and the fields.
func TestConfigMismatchRefused(t *testing.T) {
	f := newTestFleet(t, 3)
	odd := f.members[2]
	odd.host.mu.Lock()
	odd.host.digest = "d2"
	odd.host.fields = map[string]string{"health": "h2", "process": "p1"}
	odd.host.mu.Unlock()
	_, ev := f.deploy(f.members[0], "v1")
	if ev.Outcome != store.OutcomeFailed || !strings.Contains(ev.Error, "host h3") || !strings.Contains(ev.Error, "health") || strings.Contains(ev.Error, "process") {
		t.Fatalf("outcome %s %q, want failed naming h3 and the health field only", ev.Outcome, ev.Error)
	}
	for n, v := range f.applied() {
		if v != "" {
			t.Fatalf("%s serves %s after a refused deploy", n, v)
		}
	}
}

// TestLateHostConverges: a host that joins after a commit is not ready
// until it serves the committed version.
func TestLateHostConverges(t *testing.T) {
	f := newTestFleet(t, 2)
	f.deploy(f.members[0], "v1")
	late := f.add("h9")
	f.waitReady(late)
	if v := late.host.Applied("web"); v != "v1" {
		t.Fatalf("late host ready serving %q", v)
	}
}

// TestRestartedHostSettlesWhatItPrepared: a host whose process restarted
// holding a plan it prepared, whose deploy ended meanwhile, converges to
// what the fleet committed through what it prepared when that is the
// version (it undoes nothing), and undoes the plan when the fleet
// committed another version.
func TestRestartedHostSettlesWhatItPrepared(t *testing.T) {
	f := newTestFleet(t, 2)
	f.deploy(f.members[0], "v1")
	id, ev := f.deploy(f.members[0], "v2")
	if ev.Outcome != store.OutcomeDeployed {
		t.Fatalf("v2: %s %s", ev.Outcome, ev.Error)
	}

	// h3 prepared v2 for that deploy, and its process restarted while the
	// fleet committed and finalized it.
	h3 := newFakeHost("h3")
	h3.applied["web"] = "v1"
	h3.held = []Plan{{ID: id, Service: "web", Version: "v2"}}
	f.waitReady(f.addHost(h3))
	calls := callNames(h3)
	if !strings.Contains(calls, "converge web v2") || strings.Contains(calls, "abort "+id) {
		t.Fatalf("h3 calls %s, want a convergence to v2 through what it prepared and no undo", calls)
	}
	if v := h3.Applied("web"); v != "v2" || len(h3.Prepared()) != 0 {
		t.Fatalf("h3 serves %s holding %v, want v2 holding nothing", v, h3.Prepared())
	}

	// h4 kept v9 of a deploy that is gone, and the fleet serves v2.
	h4 := newFakeHost("h4")
	h4.applied["web"] = "v2"
	h4.held = []Plan{{ID: "d-gone", Service: "web", Version: "v9"}}
	m4 := f.addHost(h4)
	f.waitReady(m4)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h4.waitFor(ctx, func(h *fakeHost) bool { return len(h.held) == 0 }); err != nil {
		t.Fatalf("h4 still holds %v: %v", h4.Prepared(), err)
	}
	if calls := callNames(h4); !strings.Contains(calls, "abort d-gone") || strings.Contains(calls, "converge") {
		t.Fatalf("h4 calls %s, want the stale plan undone and no convergence", calls)
	}
	// Nothing acknowledges the undo of a deploy that is gone (Close waits
	// for the agent's writes).
	_ = m4.agent.Close()
	if kvs, _, err := f.members[0].store.List(ctx, "/test/deploys/d-gone/"); err != nil || len(kvs) != 0 {
		t.Fatalf("keys left under the gone deploy: %v %v", kvs, err)
	}
}

// callNames lists what a fake host was asked to do, in order.
func callNames(h *fakeHost) string {
	var out []string
	for _, c := range h.calls() {
		out = append(out, c.what)
	}
	return strings.Join(out, "; ")
}

func first[A, B any](a A, _ B) A { return a }
