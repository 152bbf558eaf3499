package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/coord"
	"github.com/cutover-dev/cutover/internal/etcdtest"
)

// TestFleetAllOrNone runs five cutover serve processes on one etcd behind
// HAProxy, with clients that never retry sending requests through it:
// (a) deploys v2 → v3 → rollback → v4 fail no request and every switch's
// mixed-version window is measured; (b) a version that never gets healthy
// on one host aborts everywhere and no response ever comes from it;
// (g) two deploys sent to two hosts at once: one runs, the other gets exit 5.
func TestFleetAllOrNone(t *testing.T) {
	ec := etcdOne(t)
	f := newFleet(t, 5, ec.Endpoints(), nil)
	f.startAll()
	f.host(0).mustCLI("deploy", "shop", "v1")
	f.waitAllReady(20 * time.Second)
	f.startLB()
	rec := startRecorder(t, "http://"+f.lb, 16)

	// (a) switches under load.
	steps := []struct {
		args     []string
		from, to string
	}{
		{[]string{"deploy", "shop", "v2"}, "v1", "v2"},
		{[]string{"deploy", "shop", "v3"}, "v2", "v3"},
		{[]string{"rollback", "shop"}, "v3", "v2"},
		{[]string{"deploy", "shop", "v4"}, "v2", "v4"},
	}
	for i, st := range steps {
		waitFor(t, "traffic before the switch", 10*time.Second, func() bool { return rec.mark() > 0 })
		at := rec.mark()
		r := f.host(i % 5).mustCLI(st.args...)
		if !strings.Contains(r.stdout+r.stderr, "5/5") {
			t.Errorf("%v: no per-host progress in the output:\n%s%s", st.args, r.stdout, r.stderr)
		}
		for h := range f.hosts {
			if v := f.servedVersion(h); v != st.to {
				t.Fatalf("after %v host %s serves %s, want %s", st.args, f.names[h], v, st.to)
			}
		}
		// Let the recorder see the new version everywhere.
		waitFor(t, "responses from every host on "+st.to, 10*time.Second, func() bool {
			return len(byHostVersionOf(rec.since(at), st.to)) == 5
		})
		w := mixedWindow(rec.since(at), st.from, st.to)
		t.Logf("%v: mixed-version window %s", st.args, w)
	}
	all := rec.since(0)
	if bad := failures(all); len(bad) > 0 {
		t.Fatalf("%d of %d requests failed during fleet deploys; first: %+v", len(bad), len(all), bad[0])
	}
	t.Logf("(a) %d requests through haproxy, 0 failed; per host and version: %v", len(all), byHostVersion(all))

	// (b) one host's v5 never gets healthy.
	f.flags("h3", "v5", "--unhealthy")
	at := rec.mark()
	r := f.host(0).cli("deploy", "shop", "v5")
	if r.code != exitFailed || !strings.Contains(r.stdout+r.stderr, "h3") {
		t.Fatalf("deploy of a version unhealthy on h3: exit %d, want %d naming h3\n%s%s", r.code, exitFailed, r.stdout, r.stderr)
	}
	for _, s := range rec.since(at) {
		if s.version == "v5" {
			t.Fatalf("a response came from v5, which the fleet never committed: %+v", s)
		}
	}
	for h, e := range f.hosts {
		if n := e.versionsRunning()["v5"]; n != 0 {
			t.Fatalf("host %s still runs %d v5 instance(s) after the abort", f.names[h], n)
		}
		if v := f.servedVersion(h); v != "v4" {
			t.Fatalf("host %s serves %s after the abort, want v4", f.names[h], v)
		}
	}

	// (g) two deploys at once through two hosts.
	var wg sync.WaitGroup
	res := make([]result, 2)
	for i := range 2 {
		wg.Go(func() { res[i] = f.host(i).cli("deploy", "shop", fmt.Sprintf("v6%c", 'a'+i)) })
	}
	wg.Wait()
	codes := []int{res[0].code, res[1].code}
	if !(codes[0] == exitOK && codes[1] == exitRefused || codes[0] == exitRefused && codes[1] == exitOK) {
		t.Fatalf("two concurrent deploys: exit codes %v, want one 0 and one %d\n%s%s\n%s%s", codes, exitRefused,
			res[0].stdout, res[0].stderr, res[1].stdout, res[1].stderr)
	}
	refused := res[0]
	if codes[1] == exitRefused {
		refused = res[1]
	}
	if !strings.Contains(refused.stderr+refused.stdout, "coordinated by host") {
		t.Errorf("the refusal does not say who holds the service:\n%s%s", refused.stdout, refused.stderr)
	}
	rec.stop()
	if bad := failures(rec.since(0)); len(bad) > 0 {
		t.Fatalf("%d requests failed; first: %+v", len(bad), bad[0])
	}

	// cutover hosts shows every host.
	out := f.host(2).mustCLI("hosts", "-o", "json")
	var st struct {
		Hosts []struct {
			Name  string `json:"name"`
			Ready bool   `json:"ready"`
		} `json:"hosts"`
	}
	if err := json.Unmarshal([]byte(out.stdout), &st); err != nil || len(st.Hosts) != 5 {
		t.Fatalf("cutover hosts -o json: %v\n%s", err, out.stdout)
	}
}

func byHostVersionOf(ss []sample, version string) map[string]bool {
	out := map[string]bool{}
	for _, s := range ss {
		if s.err == "" && s.version == version {
			out[s.host] = true
		}
	}
	return out
}

// TestFleetKilledHosts: (c) kill -9 of one host's cutover serve while it
// prepares aborts the deploy with the fleet unchanged, and the host
// converges when restarted; (d) kill -9 of the coordinating process during
// prepare: another host undoes the deploy, and the coordinator, restarted,
// removes what it had prepared. TestFleetKilledHostsDuringFlip kills hosts
// during the flip.
func TestFleetKilledHosts(t *testing.T) {
	ec := etcdOne(t)
	f := newFleet(t, 3, ec.Endpoints(), nil)
	f.startAll()
	f.host(0).mustCLI("deploy", "shop", "v1")
	f.waitAllReady(20 * time.Second)

	// (c) h3 is slow to start v2; kill it while it prepares.
	f.flags("h3", "v2", "--start-delay 8s")
	done := make(chan result, 1)
	go func() { done <- f.host(0).cli("deploy", "shop", "v2") }()
	waitFor(t, "h3 starting v2", 10*time.Second, func() bool { return f.host(2).versionsRunning()["v2"] > 0 })
	f.host(2).kill9()
	r := <-done
	if r.code != exitFailed || !strings.Contains(r.stdout+r.stderr, "h3") {
		t.Fatalf("deploy with h3 killed during prepare: exit %d, want %d naming h3\n%s%s", r.code, exitFailed, r.stdout, r.stderr)
	}
	for i := range 2 {
		if v := f.servedVersion(i); v != "v1" {
			t.Fatalf("host %s serves %s after the abort", f.names[i], v)
		}
		if n := f.host(i).versionsRunning()["v2"]; n != 0 {
			t.Fatalf("host %s still runs v2", f.names[i])
		}
	}
	f.flags("h3", "v2", "")
	f.host(2).start()
	f.waitAllReady(30 * time.Second)
	if v := f.servedVersion(2); v != "v1" {
		t.Fatalf("restarted h3 serves %s, want v1", v)
	}
	waitFor(t, "h3's orphaned v2 removed", 20*time.Second, func() bool { return f.host(2).versionsRunning()["v2"] == 0 })

	// (d) the coordinator (h1) dies while h2 prepares slowly.
	f.flags("h2", "v3", "--start-delay 8s")
	go func() { done <- f.host(0).cli("deploy", "shop", "v3") }()
	waitFor(t, "h2 starting v3", 10*time.Second, func() bool { return f.host(1).versionsRunning()["v3"] > 0 })
	f.host(0).kill9()
	<-done
	waitFor(t, "another host undoes the deploy of the lost coordinator", 30*time.Second, func() bool {
		return f.host(1).versionsRunning()["v3"] == 0 && f.host(2).versionsRunning()["v3"] == 0
	})
	for _, i := range []int{1, 2} {
		if v := f.servedVersion(i); v != "v1" {
			t.Fatalf("host %s serves %s after the coordinator was lost", f.names[i], v)
		}
	}
	f.host(0).start()
	f.waitAllReady(30 * time.Second)
	// h1 had prepared v3 before it was killed; the fleet aborted it.
	waitFor(t, "h1's prepared v3 removed after its restart", 20*time.Second, func() bool { return f.host(0).versionsRunning()["v3"] == 0 })
	if v := f.servedVersion(0); v != "v1" {
		t.Fatalf("restarted h1 serves %s, want v1", v)
	}
	f.flags("h2", "v3", "")
	f.host(1).mustCLI("deploy", "shop", "v3")
	for i := range 3 {
		if v := f.servedVersion(i); v != "v3" {
			t.Fatalf("host %s serves %s, want v3", f.names[i], v)
		}
	}
}

// TestFleetPartitionedHost (e): a host cut off from etcd by a TCP fault
// proxy answers 503 on its ready endpoint within the lease TTL + 1 s,
// HAProxy drops it, a deploy meanwhile switches the others, and on heal the
// host converges before it rejoins.
func TestFleetPartitionedHost(t *testing.T) {
	ec := etcdOne(t)
	px := etcdtest.ListenFaultProxy(t, strings.TrimPrefix(ec.Endpoints()[0], "http://"))
	f := newFleet(t, 3, ec.Endpoints(), func(i int) []string {
		if i == 2 {
			return []string{"http://" + px.Addr()}
		}
		return nil
	})
	f.startAll()
	f.host(0).mustCLI("deploy", "shop", "v1")
	f.waitAllReady(20 * time.Second)
	f.startLB()
	rec := startRecorder(t, "http://"+f.lb, 8)
	waitFor(t, "traffic", 10*time.Second, func() bool { return rec.mark() > 50 })

	cut := time.Now()
	px.Blackhole()
	waitFor(t, "h3 not ready", 3*time.Second+time.Second, func() bool { ok, _ := f.ready(2); return !ok })
	fenced := time.Since(cut)
	t.Logf("h3 not ready %s after the partition", fenced.Round(time.Millisecond))
	if fenced > 3*time.Second {
		t.Errorf("h3 answered ready %s after being cut off; the bound is lease TTL + 1 s = 3s", fenced)
	}
	// The others commit v2 once h3's lease expired.
	waitFor(t, "h3 out of the fleet", 15*time.Second, func() bool {
		out := f.host(0).cli("hosts", "-o", "json")
		var st struct {
			Hosts []struct {
				Name string `json:"name"`
			} `json:"hosts"`
		}
		if out.code != 0 || json.Unmarshal([]byte(out.stdout), &st) != nil {
			return false
		}
		for _, h := range st.Hosts {
			if h.Name == "h3" {
				return false
			}
		}
		return true
	})
	at := rec.mark()
	f.host(0).mustCLI("deploy", "shop", "v2")
	waitFor(t, "v2 through the load balancer", 10*time.Second, func() bool { return len(byHostVersionOf(rec.since(at), "v2")) == 2 })
	lateBound := cut.Add(3*time.Second + 500*time.Millisecond) // fencing bound + HAProxy's inter 200ms × fall 2
	for _, s := range rec.since(0) {
		if s.host == "h3" && s.start.After(lateBound) {
			t.Fatalf("h3 answered through the load balancer %s after it was cut off: %+v", s.start.Sub(cut), s)
		}
	}
	if v := f.servedVersion(2); v != "v1" {
		t.Fatalf("the partitioned host switched without seeing the commit: %s", v)
	}
	px.Heal()
	waitFor(t, "h3 converged and ready", 30*time.Second, func() bool { ok, _ := f.ready(2); return ok })
	if v := f.servedVersion(2); v != "v2" {
		t.Fatalf("h3 is ready serving %s, want v2", v)
	}
	rec.stop()
	if bad := failures(rec.since(0)); len(bad) > 0 {
		t.Errorf("%d requests failed; first: %+v", len(bad), bad[0])
	}
}

// TestFleetEtcdLeaderKilled (f): with three etcd members, killing the
// leader during a deploy ends it deployed or aborted, never mixed.
func TestFleetEtcdLeaderKilled(t *testing.T) {
	ec := etcdtest.StartBinary(t, etcdtest.BinaryOptions{Members: 3})
	f := newFleet(t, 3, ec.Endpoints(), nil)
	f.startAll()
	f.host(0).mustCLI("deploy", "shop", "v1")
	f.waitAllReady(20 * time.Second)
	f.flags("", "v2", "--start-delay 1s")
	done := make(chan result, 1)
	go func() { done <- f.host(0).cli("deploy", "shop", "v2") }()
	waitFor(t, "v2 starting everywhere", 10*time.Second, func() bool {
		for _, h := range f.hosts {
			if h.versionsRunning()["v2"] == 0 {
				return false
			}
		}
		return true
	})
	leader := ec.Leader(t)
	ec.Kill(leader)
	r := <-done
	t.Logf("deploy with the etcd leader killed: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	want := "v1"
	if r.code == exitOK {
		want = "v2"
	} else if r.code != exitFailed {
		t.Fatalf("exit %d, want 0 or %d", r.code, exitFailed)
	}
	f.waitAllReady(30 * time.Second)
	for i := range 3 {
		if v := f.servedVersion(i); v != want {
			t.Fatalf("host %s serves %s, want %s everywhere", f.names[i], v, want)
		}
	}
}

// TestFleetKilledHostsDuringFlip (c, second half): kill -9 of one host's
// cutover serve during the flip, five hosts behind HAProxy under load.
// (1) h3 is killed the moment the last prepared report lands, so the fleet
// commits while h3 is down (its report lives on its lease until the lease
// expires); (2) h4 is killed after the commit of v3, once it switched but
// before it acknowledged: an event stream open on its old version holds the
// drain that comes before the acknowledgement. Each time the deploy ends
// deployed on the other four with the killed host reported lost, none of
// the four answers from the old version after its own switch, the killed
// host's ready endpoint says 200 only once it serves the committed version
// after its restart, it keeps the instance it had prepared, and it rejoins
// the load balancers' pools.
//
// Two HAProxies send the load: one with the README's settings, one that
// also retries a refused connection on another host (retries 1, option
// redispatch). A kill -9 of a serving host fails the requests in flight at
// it; without the retry, also those HAProxy sends it until two failed
// checks (inter 200ms, fall 2) take it out of the pool. Both are counted
// per kill and bounded.
func TestFleetKilledHostsDuringFlip(t *testing.T) {
	ec := etcdOne(t)
	// The post-switch hook runs before a host acknowledges the commit; it
	// waits while the hold file of its host exists, the same config on
	// every host (the config digest must match).
	hold := filepath.Join(os.TempDir(), "co-hold-"+randHex(6)+"-")
	f := newFleetWith(t, 5, ec.Endpoints(), nil, fmt.Sprintf(`    hooks:
      post_switch: 'while [ -f %s"$E2E_HOST" ]; do sleep 0.05; done'
`, hold))
	f.startAll()
	f.host(0).mustCLI("deploy", "shop", "v1")
	f.waitAllReady(20 * time.Second)
	f.startLB()
	retrying := f.startHAProxy("haproxy-retrying", "  retries 1\n  option redispatch\n")
	rec := startRecorder(t, "http://"+f.lb, 8)
	recR := startRecorder(t, "http://"+retrying, 8)
	waitFor(t, "traffic", 10*time.Second, func() bool { return rec.mark() > 100 && recR.mark() > 100 })
	var kills []kill

	// (1) h3 starts v2 slowly, so it reports last; kill it at that report.
	f.flags("h3", "v2", "--start-delay 2s")
	w := f.watchKeys()
	at, atR := rec.mark(), recR.mark()
	done := make(chan result, 1)
	go func() { done <- f.host(0).cli("deploy", "shop", "v2", "-o", "json") }()
	prepared := map[string]bool{}
	w.await("every host's prepared report of v2", 30*time.Second, func(ev coord.Event) bool {
		if _, h, ok := strings.Cut(ev.KV.Key, "/prepared/"); ok && ev.Type == coord.EventPut {
			prepared[h] = true
		}
		return len(prepared) == 5
	})
	kills = append(kills, f.kill9(2))
	f.checkDeployedWithout(<-done, "v2", "h3")
	f.checkSwitchedAtOnce("haproxy", rec.since(at), "v1", "v2", "h3")
	f.checkSwitchedAtOnce("haproxy-retrying", recR.since(atR), "v1", "v2", "h3")
	kept := f.host(2).pidsOf("v2")
	if len(kept) != 1 {
		t.Fatalf("h3 runs %d v2 instance(s) after the kill, want the 1 it prepared", len(kept))
	}
	f.restartConverged([]*recorder{rec, recR}, 2, "v2", kept)

	// (2) h4's post-switch hook holds its acknowledgement: it switched to
	// v3 and has not acked when it is killed.
	if err := os.WriteFile(hold+"h4", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(hold + "h4") })
	w = f.watchKeys()
	at, atR = rec.mark(), recR.mark()
	go func() { done <- f.host(1).cli("deploy", "shop", "v3", "-o", "json") }()
	ev := w.await("the commit of v3", 30*time.Second, func(ev coord.Event) bool {
		return ev.Type == coord.EventPut && strings.HasSuffix(ev.KV.Key, "/state") && bytes.Contains(ev.KV.Value, []byte(`"phase":"committed"`))
	})
	id := strings.TrimSuffix(strings.TrimPrefix(ev.KV.Key, f.prefix+"deploys/"), "/state")
	waitFor(t, "h4 routing v3", 10*time.Second, func() bool { return f.servedVersion(3) == "v3" })
	if w.exists(f.prefix + "deploys/" + id + "/switched/h4") {
		t.Fatal("h4 acknowledged the commit while its post-switch hook held: the kill would not land during the flip")
	}
	kills = append(kills, f.kill9(3))
	os.Remove(hold + "h4") // the orphaned hook ends; the restarted host must not wait
	f.checkDeployedWithout(<-done, "v3", "h4")
	f.checkSwitchedAtOnce("haproxy", rec.since(at), "v2", "v3", "h4")
	f.checkSwitchedAtOnce("haproxy-retrying", recR.since(atR), "v2", "v3", "h4")
	kept = f.host(3).pidsOf("v3")
	if len(kept) != 1 {
		t.Fatalf("h4 runs %d v3 instance(s) after the kill, want 1", len(kept))
	}
	f.restartConverged([]*recorder{rec, recR}, 3, "v3", kept)

	rec.stop()
	recR.stop()
	// README settings: a request fails only from the kill until HAProxy's
	// checks took the host out of the pool (two failed checks 200 ms apart;
	// bound 1 s).
	checkKillFailures(t, "haproxy", rec.since(0), kills, 0, func(s sample, k kill) bool {
		return !s.end.Before(k.at) && s.start.Before(k.at.Add(time.Second))
	})
	// Retrying a refused connection on another host: only requests in
	// flight at the killed process fail, at most one per client (bound: it
	// began before the process was gone, plus one check interval for
	// HAProxy to see the closed connections it keeps to the host).
	checkKillFailures(t, "haproxy-retrying (retries 1, option redispatch)", recR.since(0), kills, recR.workers, func(s sample, k kill) bool {
		return !s.end.Before(k.at) && s.start.Before(k.reaped.Add(200*time.Millisecond))
	})
}

// kill is a kill -9 of a host's cutover serve: when the signal was sent
// and when the process was gone.
type kill struct {
	host       string
	at, reaped time.Time
}

// kill9 kills host i's cutover serve with SIGKILL and waits until it is gone.
func (f *fleetE2E) kill9(i int) kill {
	k := kill{host: f.names[i], at: time.Now()}
	f.host(i).kill9()
	k.reaped = time.Now()
	return k
}

// checkKillFailures checks that every failed request in ss is explained by
// a kill (explains) and, when most > 0, that at most most failed at each
// kill, and logs how many failed at each.
func checkKillFailures(t *testing.T, lb string, ss []sample, kills []kill, most int, explains func(sample, kill) bool) {
	t.Helper()
	per := make([]int, len(kills))
	var unexplained []sample
	for _, s := range failures(ss) {
		k := slices.IndexFunc(kills, func(k kill) bool { return explains(s, k) })
		if k < 0 {
			unexplained = append(unexplained, s)
			continue
		}
		per[k]++
	}
	var parts []string
	for i, k := range kills {
		parts = append(parts, fmt.Sprintf("%d at the kill of %s", per[i], k.host))
	}
	t.Logf("%s: %d requests, failed: %s; per host and version: %v", lb, len(ss), strings.Join(parts, ", "), byHostVersion(ss))
	for i, n := range per {
		if most > 0 && n > most {
			t.Errorf("%s: %d requests failed at the kill of %s, want at most %d (one in flight per client)", lb, n, kills[i].host, most)
		}
	}
	if len(unexplained) > 0 {
		t.Errorf("%s: %d request(s) failed away from the kills; first: %+v", lb, len(unexplained), unexplained[0])
	}
}

// checkDeployedWithout checks that a `cutover deploy -o json` ended
// deployed on every host but lost, which is reported lost.
func (f *fleetE2E) checkDeployedWithout(r result, version, lost string) {
	t := f.t
	t.Helper()
	if r.code != exitOK {
		t.Fatalf("deploy of %s with %s killed: exit %d, want 0\n%s%s", version, lost, r.code, r.stdout, r.stderr)
	}
	ev := doneOf(t, r.stdout)
	if ev.Outcome != "deployed" || !slices.Equal(ev.Data.Lost, []string{lost}) || ev.Data.Switched != len(f.hosts)-1 {
		t.Fatalf("deploy of %s with %s killed ended %+v, want deployed on %d hosts with %s lost", version, lost, ev, len(f.hosts)-1, lost)
	}
	t.Logf("deploy of %s with %s killed: %s; the last of the others switched %s after the commit", version, lost, ev.Message,
		time.Duration(ev.Data.LastSwitchUS)*time.Microsecond)
	for i, h := range f.names {
		if h == lost {
			continue
		}
		if v := f.servedVersion(i); v != version {
			t.Fatalf("host %s serves %s after the deploy, want %s", h, v, version)
		}
	}
}

// checkSwitchedAtOnce checks that no host but skip answered from old after
// its first answer from new, and logs the mixed-version window of the
// others as seen through the load balancer lb.
func (f *fleetE2E) checkSwitchedAtOnce(lb string, ss []sample, old, new, skip string) {
	t := f.t
	t.Helper()
	var rest []sample
	for _, s := range ss {
		if s.host != skip {
			rest = append(rest, s)
		}
	}
	for _, h := range f.names {
		if h == skip {
			continue
		}
		var mine []sample
		for _, s := range rest {
			if s.host == h {
				mine = append(mine, s)
			}
		}
		if w := mixedWindow(mine, old, new); w > 0 {
			t.Errorf("through %s, host %s answered from %s %s after its first answer from %s", lb, h, old, w, new)
		}

	}
	t.Logf("%s → %s through %s: mixed-version window across the %d other hosts %s", old, new, lb, len(f.hosts)-1, mixedWindow(rest, old, new))
}

// restartConverged restarts host i, which was killed, and checks that its
// ready endpoint answers 200 only once it serves want, that the instances
// of want it ran before the restart (keep) are the ones it serves, and
// that each recorder's load balancer sends it traffic again, all of it
// from want.
func (f *fleetE2E) restartConverged(recs []*recorder, i int, want string, keep []int) {
	t := f.t
	t.Helper()
	name := f.names[i]
	if ok, why := f.ready(i); ok {
		t.Fatalf("%s answers ready while killed: %s", name, why)
	}
	probe := f.probeReady(i, want)
	at := make([]int, len(recs))
	for j, r := range recs {
		at[j] = r.mark()
	}
	start := time.Now()
	f.host(i).start()
	serving := time.Since(start)
	readyAt := probe.wait()
	if len(probe.wrong) > 0 {
		t.Fatalf("%s answered ready while it did not serve %s: %v", name, want, probe.wrong)
	}
	if readyAt.IsZero() {
		ok, why := f.ready(i)
		t.Fatalf("%s not ready on %s a minute after its restart: %v %s", name, want, ok, why)
	}
	t.Logf("%s restarted: serving %s after start, ready on %s %s after start (%d not-ready answers before)",
		name, serving.Round(time.Millisecond), want, readyAt.Sub(start).Round(time.Millisecond), probe.notYet)
	if got := f.host(i).pidsOf(want); !slices.Equal(got, keep) {
		t.Errorf("%s serves %s from instance(s) %v, want the ones it ran before the kill %v", name, want, got, keep)
	}
	for j, r := range recs {
		waitFor(t, name+" back in the load balancer's pool", 10*time.Second, func() bool { return byHostVersionOf(r.since(at[j]), want)[name] })
		for _, s := range r.since(at[j]) {
			if s.host == name && s.version != want {
				t.Fatalf("%s answered from %s through the load balancer after its restart: %+v", name, s.version, s)
			}
		}
	}
}
