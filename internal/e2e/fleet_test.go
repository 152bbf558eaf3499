package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

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
// prepare: another host undoes the deploy.
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
