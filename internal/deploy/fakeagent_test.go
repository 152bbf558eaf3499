package deploy

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/health"
	"github.com/cutover-dev/cutover/internal/proxy"
	"github.com/cutover-dev/cutover/internal/runtime"
	"github.com/cutover-dev/cutover/internal/testutil"
)

// fakeAgent is an Agent without processes or sockets: instances start at
// once, gates pass or fail as healthy says, and every routing table
// published is recorded and checked against the rolling bounds.
type fakeAgent struct {
	// healthy decides the gate of the nth instance (0-based) of a version.
	healthy func(version string, nth int) bool
	// startErr, when set, fails the start of the versions it names.
	startErr func(version string) error
	// routeErr, when set, fails the publication of the tables it names.
	routeErr func(spec proxy.ServiceSpec) error
	// onRoute, when set, sees every table before it is published.
	onRoute func(spec proxy.ServiceSpec)
	// stopGate, when set, holds the stop of the versions it returns a
	// channel for until that channel is closed (an app slow to stop).
	stopGate func(version string) <-chan struct{}

	mu       sync.Mutex
	started  map[string]int // version → instances started
	nth      map[string]int // instance → its start order within its version
	running  map[string]runtime.Instance
	watched  map[string]bool
	routes   int
	minRoute int                // fewest routed targets in a table published after the first full one
	maxRoute int                // most routed targets in any table
	full     int                // routed targets of a full release
	last     *proxy.ServiceSpec // the table published last (nil: none or unrouted)
	stopped  []runtime.Instance // every instance stopped, in order
}

func newFakeAgent(full int, healthy func(string, int) bool) *fakeAgent {
	return &fakeAgent{healthy: healthy, started: map[string]int{}, nth: map[string]int{}, running: map[string]runtime.Instance{},
		watched: map[string]bool{}, minRoute: 1 << 30, full: full}
}

var errFakeUnhealthy = errors.New("status 503")

func (a *fakeAgent) Start(_ context.Context, spec runtime.StartSpec) (runtime.Instance, error) {
	if a.startErr != nil {
		if err := a.startErr(spec.Version); err != nil {
			return runtime.Instance{}, err
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	in := runtime.Instance{ID: spec.InstanceID, Service: spec.Service.Name, Version: spec.Version,
		Runtime: spec.Service.Runtime, Port: spec.Port, Addr: fmt.Sprintf("127.0.0.1:%d", spec.Port), StartedAt: time.Now()}
	a.running[in.ID] = in
	a.nth[in.ID] = a.started[spec.Version]
	a.started[spec.Version]++
	return in, nil
}

func (a *fakeAgent) Stop(ctx context.Context, in runtime.Instance, _ time.Duration) error {
	if a.stopGate != nil {
		if gate := a.stopGate(in.Version); gate != nil {
			select {
			case <-gate:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.running, in.ID)
	delete(a.watched, in.ID)
	a.stopped = append(a.stopped, in)
	return nil
}

func (a *fakeAgent) Inspect(_ context.Context, in runtime.Instance) (runtime.State, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.running[in.ID]
	return runtime.State{Running: ok, ExitCode: -1}, nil
}

func (a *fakeAgent) LogTail(context.Context, runtime.Instance, int) string { return "" }

func (a *fakeAgent) Gate(_ context.Context, in runtime.Instance, _ health.Check, _ time.Duration) (health.Result, error) {
	a.mu.Lock()
	nth := a.nth[in.ID]
	a.mu.Unlock()
	if !a.healthy(in.Version, nth) {
		return health.Result{Status: 503}, errFakeUnhealthy
	}
	return health.Result{Healthy: true, Attempts: 1, Status: 200}, nil
}

func (a *fakeAgent) Route(spec proxy.ServiceSpec) error {
	if a.onRoute != nil {
		a.onRoute(spec)
	}
	if a.routeErr != nil {
		if err := a.routeErr(spec); err != nil {
			return err
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.last = &spec
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

func (a *fakeAgent) Unroute(string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.last = nil
}
func (a *fakeAgent) SetWeight(string, float64) error { return nil }
func (a *fakeAgent) Drain(context.Context, string, time.Duration) (proxy.DrainResult, error) {
	return proxy.DrainResult{}, nil
}

func (a *fakeAgent) Watch(in runtime.Instance, _ health.Check, healthy bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.watched[in.ID] = healthy
}

func (a *fakeAgent) Unwatch(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.watched, id)
}

func (a *fakeAgent) Healthy(id string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.watched[id]
}

func (a *fakeAgent) List(context.Context) ([]runtime.Instance, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []runtime.Instance
	for _, in := range a.running {
		out = append(out, in)
	}
	return out, nil
}

func (a *fakeAgent) InFlight(string) int64 { return 0 }

// runningOf counts running instances per version.
func (a *fakeAgent) runningOf() map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := map[string]int{}
	for _, in := range a.running {
		m[in.Version]++
	}
	return m
}

func (a *fakeAgent) bounds() (minRoute, maxRoute int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.minRoute, a.maxRoute
}

// testPorts returns n ports nothing listens on now.
func testPorts(t *testing.T, n int) []string {
	t.Helper()
	out := make([]string, n)
	for i, p := range testutil.FreePorts(t, n) {
		out[i] = fmt.Sprint(p)
	}
	return out
}

// routedVersion returns the active version of the table published last
// ("" when none is routed).
func (a *fakeAgent) routedVersion() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.last == nil {
		return ""
	}
	return a.last.Active.Version
}

// addRunning makes the agent know a running instance, as one a previous
// cutover started.
func (a *fakeAgent) addRunning(in runtime.Instance) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.running[in.ID] = in
}

// stoppedIDs returns the ids of every instance stopped so far.
func (a *fakeAgent) stoppedIDs() map[string]bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]bool{}
	for _, in := range a.stopped {
		out[in.ID] = true
	}
	return out
}
