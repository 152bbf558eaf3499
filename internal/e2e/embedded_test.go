package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/testutil"
)

// The embedetcd build of cutover, built once by the first test that needs it.
var (
	embeddedOnce sync.Once
	embeddedBin  string
	embeddedErr  error
)

// embeddedBinary builds cutover with the embedded etcd server
// (go build -tags embedetcd), next to bin.
func embeddedBinary(t *testing.T) string {
	t.Helper()
	embeddedOnce.Do(func() {
		out := filepath.Join(filepath.Dir(bin), "cutover-embedetcd")
		args := []string{"build", "-tags", "embedetcd", "-o", out}
		if raceEnabled {
			args = append(args, "-race")
		}
		b, err := exec.Command("go", append(args, "../../cmd/cutover")...).CombinedOutput()
		if err != nil {
			embeddedErr = fmt.Errorf("go build -tags embedetcd: %v\n%s", err, b)
			return
		}
		embeddedBin = out
	})
	if embeddedErr != nil {
		t.Fatal(embeddedErr)
	}
	return embeddedBin
}

// embeddedMember is one host's place in an embedded etcd cluster.
type embeddedMember struct {
	name, peer string
	client     int
}

// newEmbeddedFleet writes the configs of n hosts (h1..hn) whose cutover
// serve processes form the etcd cluster themselves, and makes them run the
// embedetcd build.
func newEmbeddedFleet(t *testing.T, n int) (*fleetE2E, []embeddedMember) {
	t.Helper()
	exe := embeddedBinary(t)
	dir, err := os.MkdirTemp("", "co-emb-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	f := &fleetE2E{t: t, dir: dir, prefix: "/e2e-" + randHex(4) + "/"}
	var ms []embeddedMember
	for i := range n {
		ms = append(ms, embeddedMember{name: fmt.Sprintf("h%d", i+1),
			peer: fmt.Sprintf("http://127.0.0.1:%d", testutil.FreePort(t)), client: testutil.FreePort(t)})
	}
	for _, m := range ms {
		f.addEmbeddedHost(exe, m, ms, "new")
	}
	return f, ms
}

// addEmbeddedHost writes the config of host m of the embedded cluster
// members, with initial cluster state state.
func (f *fleetE2E) addEmbeddedHost(exe string, m embeddedMember, members []embeddedMember, state string) *env {
	t := f.t
	t.Helper()
	hd := filepath.Join(f.dir, m.name)
	if err := os.MkdirAll(hd, 0o700); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dir: hd, mark: "emb-" + randHex(6), sock: filepath.Join(hd, "admin.sock"), serveBin: exe}
	e.http = fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	e.ports = [2]int{testutil.FreePort(t), testutil.FreePort(t)}
	e.cfg = filepath.Join(hd, "cutover.yaml")
	e.extraEnv = []string{"E2E_MARK=" + e.mark, "E2E_HOST=" + m.name}
	var list strings.Builder
	for _, o := range members {
		fmt.Fprintf(&list, "    %s: %q\n", o.name, o.peer)
	}
	script := fmt.Sprintf(`exec %s sample-app --version "$1" --port "$2" $(cat %s/flags-"$1"-"$E2E_HOST" 2>/dev/null)`, bin, f.dir)
	y := fmt.Sprintf(`listen:
  http: %q
admin:
  socket: %q
state_dir: %q
access_log: false
cluster:
  backend: embedded
  name: %s
  prefix: %q
  lease_ttl: 2s
  client_listen: "127.0.0.1:%d"
  initial_cluster_state: %s
  members:
%sservices:
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
`, e.http, e.sock, filepath.Join(hd, "state"), m.name, f.prefix, m.client, state, list.String(), script, e.ports[0], e.ports[1])
	if err := os.WriteFile(e.cfg, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.cleanup)
	f.hosts = append(f.hosts, e)
	f.names = append(f.names, m.name)
	return e
}

// fleetHosts returns the host names host i's fleet view lists and whether
// that view is in sync with etcd.
func (f *fleetE2E) fleetHosts(i int) ([]string, bool) {
	out := f.host(i).cli("hosts", "-o", "json")
	var st struct {
		Synced bool `json:"synced"`
		Hosts  []struct {
			Name string `json:"name"`
		} `json:"hosts"`
	}
	if out.code != 0 || json.Unmarshal([]byte(out.stdout), &st) != nil {
		return nil, false
	}
	var names []string
	for _, h := range st.Hosts {
		names = append(names, h.Name)
	}
	return names, st.Synced
}

// clusterMembers lists the embedded etcd members by name, as host i's
// `cutover cluster` shows them.
func (f *fleetE2E) clusterMembers(i int) []string {
	f.t.Helper()
	r := f.host(i).runCLI(nil, "cluster", "-c", f.host(i).cfg, "-o", "json")
	if r.code != 0 {
		f.t.Fatalf("cutover cluster: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var out struct {
		Members []struct {
			Name string `json:"name"`
		} `json:"members"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		f.t.Fatalf("cutover cluster -o json: %v\n%s", err, r.stdout)
	}
	var names []string
	for _, m := range out.Members {
		names = append(names, m.Name)
	}
	slices.Sort(names)
	return names
}

// TestEmbeddedFleet: three cutover serve processes of the embedetcd build
// form the etcd cluster themselves; a fleet deploy through HAProxy fails
// no request. Then two of the three are killed (-9): the last one keeps
// serving what it served, its ready endpoint turns 503 within the lease
// TTL + two election timeouts, and a deploy fails; with one host back the fleet commits
// again once the dead host's lease expired, and the third converges when
// it returns.
func TestEmbeddedFleet(t *testing.T) {
	f, _ := newEmbeddedFleet(t, 3)
	f.startAll()
	if got := f.clusterMembers(0); !slices.Equal(got, []string{"h1", "h2", "h3"}) {
		t.Fatalf("embedded etcd members %v, want h1 h2 h3", got)
	}
	f.host(0).mustCLI("deploy", "shop", "v1")
	f.waitAllReady(20 * time.Second)
	f.startLB()
	rec := startRecorder(t, "http://"+f.lb, 8)
	waitFor(t, "traffic", 10*time.Second, func() bool { return rec.mark() > 50 })
	at := rec.mark()
	r := f.host(1).mustCLI("deploy", "shop", "v2")
	if !strings.Contains(r.stdout, "3/3") {
		t.Errorf("no per-host progress:\n%s", r.stdout)
	}
	waitFor(t, "v2 from every host through haproxy", 10*time.Second, func() bool { return len(byHostVersionOf(rec.since(at), "v2")) == 3 })
	t.Logf("v1 → v2 on the embedded cluster: mixed-version window %s", mixedWindow(rec.since(at), "v1", "v2"))
	rec.stop()
	if bad := failures(rec.since(0)); len(bad) > 0 {
		t.Fatalf("%d of %d requests failed; first: %+v", len(bad), len(rec.since(0)), bad[0])
	}

	// Loss of quorum: only h1's member is left.
	direct := startRecorder(t, "http://"+f.host(0).http, 4)
	cut := time.Now()
	f.host(1).kill9()
	f.host(2).kill9()
	// The bound: the lease TTL after the last renewal the store granted.
	// When h1's member is the etcd leader it keeps granting renewals
	// (without a quorum round) until raft's quorum check makes it step
	// down, which takes up to two election timeouts (1 s each here); the
	// store's new leader extends every lease, so this delay is safe, and
	// the remaining 0.5 s is for the readiness poll on a loaded machine.
	const fenceBound = 2*time.Second + 2*time.Second + 500*time.Millisecond
	waitFor(t, "h1 not ready without a quorum", fenceBound+time.Second, func() bool { ok, _ := f.ready(0); return !ok })
	fenced := time.Since(cut)
	_, reason := f.ready(0)
	t.Logf("h1 not ready %s after the quorum was lost: %s", fenced.Round(time.Millisecond), reason)
	if fenced > fenceBound {
		t.Errorf("h1 answered ready %s after the quorum was lost; the bound is lease TTL + 2 election timeouts + 0.5 s = %s", fenced, fenceBound)
	}
	if v := f.servedVersion(0); v != "v2" {
		t.Fatalf("without a quorum h1 serves %q, want v2 still", v)
	}
	start := time.Now()
	r = f.host(0).cli("deploy", "shop", "v3")
	t.Logf("deploy without a quorum: exit %d after %s\n%s%s", r.code, time.Since(start).Round(time.Millisecond), r.stdout, r.stderr)
	if r.code != exitFailed || !strings.Contains(r.stdout+r.stderr, "coordination store unavailable") {
		t.Fatalf("deploy without a quorum: exit %d, want %d saying the coordination store is unavailable", r.code, exitFailed)
	}
	if _, synced := f.fleetHosts(0); synced {
		t.Error("cutover hosts says the fleet view is in sync without a quorum")
	}
	if n := f.host(0).versionsRunning()["v3"]; n != 0 {
		t.Fatalf("h1 runs %d v3 instance(s) after a deploy that could not start", n)
	}
	direct.stop()
	if bad := failures(direct.since(0)); len(bad) > 0 || len(direct.since(0)) == 0 {
		t.Fatalf("requests straight to h1 without a quorum: %d of %d failed", len(bad), len(direct.since(0)))
	}
	t.Logf("%d requests straight to h1 while the cluster had no quorum, 0 failed", len(direct.since(0)))

	// A second member back: a quorum again.
	f.host(1).start()
	waitFor(t, "h1 ready again with a quorum", 20*time.Second, func() bool { ok, _ := f.ready(0); return ok })
	waitFor(t, "the dead h3 out of the fleet", 20*time.Second, func() bool {
		names, synced := f.fleetHosts(0)
		return synced && !slices.Contains(names, "h3")
	})
	r = f.host(0).mustCLI("deploy", "shop", "v3")
	if !strings.Contains(r.stdout, "2/2") {
		t.Errorf("deploy with h3 down does not show 2/2:\n%s", r.stdout)
	}
	f.host(2).start()
	waitFor(t, "h3 converged and ready", 30*time.Second, func() bool { ok, _ := f.ready(2); return ok })
	for i := range 3 {
		if v := f.servedVersion(i); v != "v3" {
			t.Fatalf("host %s serves %s, want v3", f.names[i], v)
		}
	}
}

// TestEmbeddedJoinRemove follows the README's join and remove steps: a
// fourth host is added with `cutover cluster add`, starts with
// initial_cluster_state existing and takes part in a deploy; then it is
// stopped and removed with `cutover cluster remove` and
// `cutover hosts remove`, and the three deploy on their own.
func TestEmbeddedJoinRemove(t *testing.T) {
	f, ms := newEmbeddedFleet(t, 3)
	f.startAll()
	f.host(0).mustCLI("deploy", "shop", "v1")

	h4 := embeddedMember{name: "h4", peer: fmt.Sprintf("http://127.0.0.1:%d", testutil.FreePort(t)), client: testutil.FreePort(t)}
	var r result
	// etcd changes the members only once every member has been connected
	// for 5 s; the command says so with exit code 5.
	waitFor(t, "cutover cluster add accepted", 30*time.Second, func() bool {
		r = f.host(0).runCLI(nil, "cluster", "add", h4.name, h4.peer, "-c", f.host(0).cfg)
		if r.code == exitRefused && strings.Contains(r.stderr, "connected for 5 seconds") {
			return false
		}
		if r.code != 0 {
			t.Fatalf("cutover cluster add: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		return true
	})
	for _, want := range []string{"initial_cluster_state: existing", "h4: " + fmt.Sprintf("%q", h4.peer), "h1: " + fmt.Sprintf("%q", ms[0].peer)} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("cutover cluster add output lacks %q:\n%s", want, r.stdout)
		}
	}
	e4 := f.addEmbeddedHost(embeddedBinary(t), h4, append(slices.Clone(ms), h4), "existing")
	e4.start()
	f.waitAllReady(30 * time.Second)
	if got := f.clusterMembers(3); !slices.Equal(got, []string{"h1", "h2", "h3", "h4"}) {
		t.Fatalf("members after the join: %v", got)
	}
	waitFor(t, "h4 converged to v1", 20*time.Second, func() bool { return f.servedVersion(3) == "v1" })
	r = f.host(3).mustCLI("deploy", "shop", "v2")
	if !strings.Contains(r.stdout, "4/4") {
		t.Errorf("deploy after the join does not show 4/4:\n%s", r.stdout)
	}

	e4.stop()
	f.hosts, f.names = f.hosts[:3], f.names[:3]
	f.host(0).mustCLI("cluster", "remove", "h4", "-c", f.host(0).cfg)
	f.host(0).mustCLI("hosts", "remove", "h4")
	if got := f.clusterMembers(1); !slices.Equal(got, []string{"h1", "h2", "h3"}) {
		t.Fatalf("members after the removal: %v", got)
	}
	r = f.host(1).mustCLI("deploy", "shop", "v3")
	if !strings.Contains(r.stdout, "3/3") {
		t.Errorf("deploy after the removal does not show 3/3:\n%s", r.stdout)
	}
}

// TestEmbeddedNeedsTheBuild: the default binary refuses backend embedded
// with exit code 2 and says how to get the build that has it.
func TestEmbeddedNeedsTheBuild(t *testing.T) {
	e := newEnv(t, "")
	b, err := os.ReadFile(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	cluster := fmt.Sprintf("cluster:\n  name: h1\n  client_listen: \"127.0.0.1:%d\"\n  members:\n    h1: \"http://127.0.0.1:%d\"\n", testutil.FreePort(t), testutil.FreePort(t))
	if err := os.WriteFile(e.cfg, append([]byte(cluster), b...), 0o600); err != nil {
		t.Fatal(err)
	}
	r := e.runCLI(nil, "serve", "-c", e.cfg)
	if r.code != 2 || !strings.Contains(r.stderr, "go build -tags embedetcd ./cmd/cutover") {
		t.Fatalf("serve of backend embedded with the default build: exit %d, want 2 naming the build\n%s", r.code, r.stderr)
	}
}
