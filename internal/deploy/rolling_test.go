package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/health"
	"github.com/cutover-dev/cutover/internal/proxy"
	"github.com/cutover-dev/cutover/internal/runtime"
	"github.com/cutover-dev/cutover/internal/store"
)

// rollAgent is an Agent without processes or sockets: instances start at
// once, gates pass or fail as healthy says, and every routing table
// published is checked against the rolling bounds.
type rollAgent struct {
	// healthy decides the gate of the nth instance (0-based) of a version.
	healthy func(version string, nth int) bool

	mu       sync.Mutex
	started  map[string]int // version → instances started
	nth      map[string]int // instance → its start order within its version
	running  map[string]runtime.Instance
	watched  map[string]bool
	routes   int
	minRoute int // fewest routed targets in a table published after the first full one
	maxRoute int // most routed targets in any table
	full     int // routed targets of a full release
}

func newRollAgent(full int, healthy func(string, int) bool) *rollAgent {
	return &rollAgent{healthy: healthy, started: map[string]int{}, nth: map[string]int{}, running: map[string]runtime.Instance{},
		watched: map[string]bool{}, minRoute: 1 << 30, full: full}
}

var errFakeUnhealthy = errors.New("status 503")

func (a *rollAgent) Start(_ context.Context, spec runtime.StartSpec) (runtime.Instance, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	in := runtime.Instance{ID: spec.InstanceID, Service: spec.Service.Name, Version: spec.Version,
		Runtime: spec.Service.Runtime, Port: spec.Port, Addr: fmt.Sprintf("127.0.0.1:%d", spec.Port), StartedAt: time.Now()}
	a.running[in.ID] = in
	a.nth[in.ID] = a.started[spec.Version]
	a.started[spec.Version]++
	return in, nil
}

func (a *rollAgent) Stop(_ context.Context, in runtime.Instance, _ time.Duration) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.running, in.ID)
	delete(a.watched, in.ID)
	return nil
}

func (a *rollAgent) Inspect(_ context.Context, in runtime.Instance) (runtime.State, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.running[in.ID]
	return runtime.State{Running: ok, ExitCode: -1}, nil
}

func (a *rollAgent) LogTail(context.Context, runtime.Instance, int) string { return "" }

func (a *rollAgent) Gate(_ context.Context, in runtime.Instance, _ health.Check, _ time.Duration) (health.Result, error) {
	a.mu.Lock()
	nth := a.nth[in.ID]
	a.mu.Unlock()
	if !a.healthy(in.Version, nth) {
		return health.Result{Status: 503}, errFakeUnhealthy
	}
	return health.Result{Healthy: true, Attempts: 1, Status: 200}, nil
}

func (a *rollAgent) Route(spec proxy.ServiceSpec) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := len(spec.Active.Targets)
	if spec.Candidate != nil {
		n += len(spec.Candidate.Targets)
	}
	a.routes++
	a.maxRoute = max(a.maxRoute, n)
	if a.minRoute != 1<<30 || n >= a.full {
		a.minRoute = min(a.minRoute, n)
	}
	return nil
}

func (a *rollAgent) Unroute(string)                  {}
func (a *rollAgent) SetWeight(string, float64) error { return nil }
func (a *rollAgent) Drain(context.Context, string, time.Duration) (proxy.DrainResult, error) {
	return proxy.DrainResult{}, nil
}

func (a *rollAgent) Watch(in runtime.Instance, _ health.Check, healthy bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.watched[in.ID] = healthy
}

func (a *rollAgent) Unwatch(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.watched, id)
}

func (a *rollAgent) Healthy(id string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.watched[id]
}

func (a *rollAgent) List(context.Context) ([]runtime.Instance, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []runtime.Instance
	for _, in := range a.running {
		out = append(out, in)
	}
	return out, nil
}

func (a *rollAgent) InFlight(string) int64 { return 0 }

// runningOf counts running instances per version.
func (a *rollAgent) runningOf() map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := map[string]int{}
	for _, in := range a.running {
		m[in.Version]++
	}
	return m
}

func (a *rollAgent) bounds() (minRoute, maxRoute int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.minRoute, a.maxRoute
}

// testPorts returns n ports nothing listens on now.
func testPorts(t *testing.T, n int) []string {
	t.Helper()
	out := make([]string, n)
	for i := range out {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		out[i] = fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
		defer l.Close()
	}
	return out
}

// newRollController returns a started controller of one rolling service.
func newRollController(t *testing.T, agent Agent, replicas, surge, unavail, ports int) *Controller {
	t.Helper()
	yml := fmt.Sprintf(`state_dir: %s
services:
  shop:
    runtime: process
    process:
      command: /bin/true
    strategy: rolling
    replicas: %d
    rolling:
      max_surge: %d
      max_unavailable: %d
    ports: [%s]
    standby: 1m
`, t.TempDir(), replicas, surge, unavail, strings.Join(testPorts(t, ports), ", "))
	cfg, err := config.Parse([]byte(yml), "cutover.yaml")
	if err != nil {
		t.Fatalf("config: %v\n%s", err, yml)
	}
	st, err := store.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{Config: cfg, Store: st, Agent: agent, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// deployAndWait deploys version and returns the final event.
func deployAndWait(t *testing.T, c *Controller, version string) Event {
	t.Helper()
	id, err := c.Deploy(context.Background(), DeployRequest{Service: "shop", Version: version})
	if err != nil {
		t.Fatalf("deploy %s: %v", version, err)
	}
	ch, cancel, err := c.Subscribe("shop", id)
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("event stream of %s closed before the end", version)
			}
			if ev.Type == EventDone {
				return ev
			}
		case <-timeout:
			t.Fatalf("deploy of %s did not end", version)
		}
	}
}

// TestRollingBounds replaces every replica for many replicas, max_surge,
// max_unavailable and port pool sizes: every routing table published keeps
// at least replicas − max_unavailable and at most replicas + max_surge
// targets, and the old instances end warm when the pool has room for them.
func TestRollingBounds(t *testing.T) {
	for _, tc := range []struct{ n, surge, unavail int }{
		{1, 1, 0}, {3, 1, 0}, {4, 1, 1}, {4, 0, 1}, {4, 2, 0}, {5, 2, 2}, {5, 0, 3}, {4, 4, 0},
	} {
		for _, ports := range []int{tc.n + tc.surge, 2*tc.n + tc.surge} {
			name := fmt.Sprintf("n%d_surge%d_unavail%d_ports%d", tc.n, tc.surge, tc.unavail, ports)
			t.Run(name, func(t *testing.T) {
				agent := newRollAgent(tc.n, func(string, int) bool { return true })
				c := newRollController(t, agent, tc.n, tc.surge, tc.unavail, max(ports, tc.n))
				if ev := deployAndWait(t, c, "v1"); ev.Outcome != store.OutcomeDeployed {
					t.Fatalf("v1: %s: %s", ev.Outcome, ev.Error)
				}
				if ev := deployAndWait(t, c, "v2"); ev.Outcome != store.OutcomeDeployed {
					t.Fatalf("v2: %s: %s", ev.Outcome, ev.Error)
				}
				lo, hi := agent.bounds()
				if lo < tc.n-tc.unavail || hi > tc.n+tc.surge {
					t.Errorf("routed targets ranged %d..%d, want within %d..%d", lo, hi, tc.n-tc.unavail, tc.n+tc.surge)
				}
				st, err := c.Status(context.Background(), "shop")
				if err != nil {
					t.Fatal(err)
				}
				if st.Active == nil || st.Active.Version != "v2" || len(st.Active.Instances) != tc.n || st.Candidate != nil {
					t.Fatalf("after the update: %+v", st)
				}
				running := agent.runningOf()
				warm := 0
				if st.Standby != nil {
					warm = len(st.Standby.Instances)
				}
				if running["v2"] != tc.n || running["v1"] != warm {
					t.Errorf("running %v, want %d of v2 and the %d of v1 on standby", running, tc.n, warm)
				}
				if warm != 0 && warm != tc.n {
					t.Errorf("standby of %d instances: a partial standby cannot carry the traffic", warm)
				}
				if ports >= 2*tc.n+tc.surge && warm != tc.n {
					t.Errorf("%d of %d old instances kept warm with %d ports", warm, tc.n, ports)
				}
			})
		}
	}
}

// TestRollingFailureRestoresOld: the new version fails its gate after k
// healthy instances joined: with k > 0 the update is rolled back, with
// k = 0 it failed; either way all replicas run the old version at the end,
// no new instance is left, and capacity never fell below its bound.
func TestRollingFailureRestoresOld(t *testing.T) {
	for _, tc := range []struct{ n, surge, unavail, ports, k int }{
		{4, 1, 0, 9, 0}, {4, 1, 0, 9, 2}, {4, 1, 0, 5, 2}, {4, 1, 1, 5, 1}, {4, 0, 1, 4, 2}, {3, 2, 0, 5, 2},
	} {
		name := fmt.Sprintf("n%d_surge%d_unavail%d_ports%d_k%d", tc.n, tc.surge, tc.unavail, tc.ports, tc.k)
		t.Run(name, func(t *testing.T) {
			agent := newRollAgent(tc.n, func(v string, nth int) bool { return v != "v2" || nth < tc.k })
			c := newRollController(t, agent, tc.n, tc.surge, tc.unavail, tc.ports)
			if ev := deployAndWait(t, c, "v1"); ev.Outcome != store.OutcomeDeployed {
				t.Fatalf("v1: %s: %s", ev.Outcome, ev.Error)
			}
			ev := deployAndWait(t, c, "v2")
			want := store.OutcomeRolledBack
			if tc.k == 0 {
				want = store.OutcomeFailed
			}
			if tc.k > 0 && tc.unavail > 0 && tc.k < tc.surge+tc.unavail {
				// The first round's batch failed as a whole: nothing served.
				want = store.OutcomeFailed
			}
			if ev.Outcome != want || !strings.Contains(ev.Error, "did not become healthy") {
				t.Errorf("v2 ended %s (%s), want %s for an unhealthy instance", ev.Outcome, ev.Error, want)
			}
			// Warm old instances rejoin at once, beyond max_surge: they run
			// already, so only the lower bound applies.
			if lo, _ := agent.bounds(); lo < tc.n-tc.unavail {
				t.Errorf("routed targets fell to %d, below %d", lo, tc.n-tc.unavail)
			}
			st, err := c.Status(context.Background(), "shop")
			if err != nil {
				t.Fatal(err)
			}
			if st.Active == nil || st.Active.Version != "v1" || len(st.Active.Instances) != tc.n || st.Candidate != nil || st.Standby != nil {
				t.Fatalf("after the failure: %+v", st)
			}
			if running := agent.runningOf(); running["v2"] != 0 || running["v1"] != tc.n {
				t.Errorf("running %v, want only %d of v1", running, tc.n)
			}
		})
	}
}

// TestRollingSameVersionRefused: rolling to the live version changes
// nothing and says how to restart it.
func TestRollingSameVersionRefused(t *testing.T) {
	agent := newRollAgent(2, func(string, int) bool { return true })
	c := newRollController(t, agent, 2, 1, 0, 3)
	if ev := deployAndWait(t, c, "v1"); ev.Outcome != store.OutcomeDeployed {
		t.Fatalf("v1: %s: %s", ev.Outcome, ev.Error)
	}
	ev := deployAndWait(t, c, "v1")
	if ev.Outcome != store.OutcomeFailed || !strings.Contains(ev.Error, "--strategy switch") {
		t.Errorf("rolling to the live version ended %s (%s), want failed naming the fix", ev.Outcome, ev.Error)
	}
	if running := agent.runningOf(); running["v1"] != 2 {
		t.Errorf("running %v, want the 2 instances of v1 untouched", running)
	}
}
