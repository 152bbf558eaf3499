package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestFleetStrategies runs the canary and rolling strategies across five
// cutover serve processes on one etcd behind HAProxy, under load from
// clients that never retry:
//   - a canary runs at the same weight on every host, is judged on the sum
//     of their numbers and promoted everywhere: 0 failed requests;
//   - a canary that fails 30% of its requests on one host is rolled back on
//     every host (exit 3); every failed response came from that canary;
//   - rolling --batch 2 switches hosts two at a time, in order: 0 failed;
//   - a rolling deploy whose second batch never gets healthy takes the first
//     batch back (exit 3): 0 failed, every host on the old version.
func TestFleetStrategies(t *testing.T) {
	ec := etcdOne(t)
	f := newFleetWith(t, 5, ec.Endpoints(), nil, `    canary:
      steps: [20, 50]
      step_duration: 2s
      min_requests: 50
      max_step_duration: 60s
`)
	f.startAll()
	f.host(0).mustCLI("deploy", "shop", "v1", "--strategy", "switch")
	f.waitAllReady(20 * time.Second)
	f.startLB()
	rec := startRecorder(t, "http://"+f.lb, 16)
	waitFor(t, "traffic", 10*time.Second, func() bool { return rec.mark() > 100 })

	// A good canary on every host.
	at := rec.mark()
	r := f.host(1).mustCLI("deploy", "shop", "v2", "--strategy", "canary")
	out := r.stdout + r.stderr
	for _, want := range []string{"step 1/3: 20% of traffic to v2 on every host", "step 2/3: 50%", "passed on 5 host(s)", "promoted v2 on 5 host(s)"} {
		if !strings.Contains(out, want) {
			t.Errorf("canary output lacks %q:\n%s", want, out)
		}
	}
	during := byHostVersion(rec.since(at))
	for _, h := range f.names {
		if during[h]["v1"] == 0 || during[h]["v2"] == 0 {
			t.Errorf("host %s did not serve both versions during the canary: %v", h, during[h])
		}
	}
	for i := range f.hosts {
		if v := f.servedVersion(i); v != "v2" {
			t.Fatalf("after the canary host %s serves %s, want v2", f.names[i], v)
		}
	}
	if bad := failures(rec.since(0)); len(bad) > 0 {
		t.Fatalf("%d requests failed during a good canary; first: %+v", len(bad), bad[0])
	}

	// A canary steered from hosts other than its coordinator: status shows
	// it on every host, set-weight and abort act on every host.
	r = f.host(0).mustCLI("deploy", "shop", "v6", "--strategy", "canary", "--detach")
	waitFor(t, "the v6 canary taking traffic everywhere", 20*time.Second, func() bool {
		st := f.host(2).cli("status")
		return strings.Contains(st.stdout, "canary step 1/3 at 20% on every host") && strings.Count(st.stdout, ": 20%, canary") == 5
	})
	f.host(3).mustCLI("set-weight", "shop", "40")
	waitFor(t, "40% on every host", 20*time.Second, func() bool {
		st := f.host(4).cli("status")
		return strings.Contains(st.stdout, "at 40% on every host (paused)") && strings.Count(st.stdout, ": 40%, canary") == 5
	})
	f.host(4).mustCLI("abort", "shop")
	waitFor(t, "the aborted canary gone", 20*time.Second, func() bool {
		return !strings.Contains(f.host(1).cli("status").stdout, "canary step")
	})
	for i := range f.hosts {
		if v := f.servedVersion(i); v != "v2" {
			t.Fatalf("after the aborted canary host %s serves %s, want v2", f.names[i], v)
		}
	}
	hist := f.host(2).mustCLI("history", "shop", "-o", "json")
	for _, want := range []string{`"version": "v6"`, `"outcome": "aborted"`, `"coordinator": "h1"`, `"hosts": [`} {
		if !strings.Contains(hist.stdout, want) {
			t.Errorf("fleet history on h3 lacks %s:\n%s", want, hist.stdout)
		}
	}

	// A canary that fails on one host: rolled back everywhere.
	f.flags("h2", "v3", "--error-rate 0.3")
	at = rec.mark()
	r = f.host(3).cli("deploy", "shop", "v3", "--strategy", "canary")
	if r.code != 3 || !strings.Contains(r.stdout+r.stderr, "canary analysis failed") {
		t.Fatalf("bad canary: exit %d, want 3 with the analysis' reason\n%s%s", r.code, r.stdout, r.stderr)
	}
	for i := range f.hosts {
		if v := f.servedVersion(i); v != "v2" {
			t.Fatalf("after the rolled-back canary host %s serves %s, want v2", f.names[i], v)
		}
	}
	for _, s := range failures(rec.since(at)) {
		if s.version != "v3" || s.host != "h2" {
			t.Fatalf("a request failed outside the bad canary: %+v", s)
		}
	}
	after := rec.mark()
	waitFor(t, "traffic after the rollback", 10*time.Second, func() bool { return rec.mark() > after+200 })
	for _, s := range rec.since(after) {
		if s.version == "v3" {
			t.Fatalf("the rolled-back canary still answered: %+v", s)
		}
	}
	f.waitAllReady(10 * time.Second)

	// Rolling, two hosts at a time.
	at = rec.mark()
	r = f.host(0).mustCLI("deploy", "shop", "v4", "--strategy", "rolling", "--batch", "2")
	out = r.stdout + r.stderr
	for _, want := range []string{"batch 1/3", "batch 3/3 switched", "committed v4 on 5 host(s)"} {
		if !strings.Contains(out, want) {
			t.Errorf("rolling output lacks %q:\n%s", want, out)
		}
	}
	first := map[string]time.Time{}
	for _, s := range rec.since(at) {
		if s.err == "" && s.version == "v4" {
			if _, ok := first[s.host]; !ok {
				first[s.host] = s.end
			}
		}
	}
	batches := [][]string{{"h1", "h2"}, {"h3", "h4"}, {"h5"}}
	for b := 1; b < len(batches); b++ {
		for _, h := range batches[b] {
			for _, p := range batches[b-1] {
				if first[h].IsZero() || first[p].IsZero() || !first[h].After(first[p]) {
					t.Errorf("host %s (batch %d) served v4 at %v, not after %s (batch %d) at %v",
						h, b+1, first[h].Format(time.StampMicro), p, b, first[p].Format(time.StampMicro))
				}
			}
		}
	}

	// Rolling whose second batch never gets healthy: the first goes back.
	f.flags("h3", "v5", "--unhealthy")
	r = f.host(4).cli("deploy", "shop", "v5", "--strategy", "rolling", "--batch", "2")
	if r.code != 3 || !strings.Contains(r.stdout+r.stderr, "h3") {
		t.Fatalf("failed rolling: exit %d, want 3 naming h3\n%s%s", r.code, r.stdout, r.stderr)
	}
	f.waitAllReady(20 * time.Second)
	for i := range f.hosts {
		if v := f.servedVersion(i); v != "v4" {
			t.Fatalf("after the failed rolling deploy host %s serves %s, want v4", f.names[i], v)
		}
	}
	all := rec.since(0)
	var bad []sample
	for _, s := range failures(all) {
		if s.version != "v3" {
			bad = append(bad, s)
		}
	}
	if len(bad) > 0 {
		t.Fatalf("%d of %d requests failed outside the bad canary; first: %+v", len(bad), len(all), bad[0])
	}
	t.Logf("%d requests through HAProxy, per host and version: %v", len(all), byHostVersion(all))
}
