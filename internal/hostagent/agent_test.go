package hostagent

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/health"
	"github.com/cutover-dev/cutover/internal/proxy"
	"github.com/cutover-dev/cutover/internal/runtime"
	"github.com/cutover-dev/cutover/internal/testutil"
)

// agentFakeRuntime is a runtime of kind "docker" whose answers the test
// sets: Inspect's state, a script of HEALTHCHECK statuses, the listed
// instances, and the prune error. It records DockerHealth and PruneImages
// calls.
type agentFakeRuntime struct {
	mu       sync.Mutex
	state    runtime.State
	statuses []string // DockerHealth answers in order; the last one repeats
	healthN  int
	listed   []runtime.Instance
	pruneErr error
	prunes   chan agentPruneCall
	stopped  []string
}

type agentPruneCall struct {
	service string
	keep    []string
	keepN   int
}

func newAgentFakeRuntime() *agentFakeRuntime {
	return &agentFakeRuntime{
		state:    runtime.State{Running: true, ExitCode: -1, Detail: "running"},
		statuses: []string{dockerHealthHealthy},
		prunes:   make(chan agentPruneCall, 16),
	}
}

func (f *agentFakeRuntime) Kind() string { return config.RuntimeDocker }

func (f *agentFakeRuntime) Start(_ context.Context, spec runtime.StartSpec) (runtime.Instance, error) {
	return runtime.Instance{ID: spec.InstanceID, Service: spec.Service.Name, Version: spec.Version,
		Runtime: config.RuntimeDocker, Port: spec.Port}, nil
}

func (f *agentFakeRuntime) Inspect(context.Context, runtime.Instance) (runtime.State, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state, nil
}

func (f *agentFakeRuntime) Stop(_ context.Context, inst runtime.Instance, _ time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = append(f.stopped, inst.ID)
	return nil
}

func (f *agentFakeRuntime) LogTail(context.Context, runtime.Instance, int) (string, error) {
	return "", nil
}

func (f *agentFakeRuntime) List(context.Context) ([]runtime.Instance, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]runtime.Instance(nil), f.listed...), nil
}

func (f *agentFakeRuntime) DockerHealth(context.Context, runtime.Instance) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := min(f.healthN, len(f.statuses)-1)
	f.healthN++
	return f.statuses[i], nil
}

func (f *agentFakeRuntime) PruneImages(_ context.Context, service string, keep []string, keepN int) error {
	f.prunes <- agentPruneCall{service: service, keep: keep, keepN: keepN}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pruneErr
}

func (f *agentFakeRuntime) healthCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.healthN
}

// agentTestEnv is an Agent whose "docker" runtime is an
// agentFakeRuntime, logging to a buffer.
type agentTestEnv struct {
	agent *Agent
	rt    *agentFakeRuntime
	logs  *testutil.SyncBuffer
}

func newAgentTestEnv(t *testing.T) *agentTestEnv {
	t.Helper()
	e := &agentTestEnv{rt: newAgentFakeRuntime(), logs: &testutil.SyncBuffer{}}
	log := slog.New(slog.NewTextHandler(e.logs, nil))
	px, err := proxy.New(proxy.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	mon := health.NewMonitor(health.MonitorOptions{Logger: log})
	t.Cleanup(func() { _ = mon.Close() })
	factory := func(kind string) (runtime.Runtime, error) {
		if kind != config.RuntimeDocker {
			return nil, errors.New("no such runtime here")
		}
		return e.rt, nil
	}
	e.agent, err = New(Options{Proxy: px, Monitor: mon, Runtime: factory, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.agent.Close() })
	return e
}

// start starts an instance of service through the agent, listening on a
// test HTTP server that answers 200.
func (e *agentTestEnv) start(t *testing.T, svc *config.Service, version string) runtime.Instance {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(srv.Close)
	inst, err := e.agent.Start(t.Context(), runtime.StartSpec{Service: svc, Version: version, InstanceID: svc.Name + "-" + version})
	if err != nil {
		t.Fatal(err)
	}
	inst.Addr = strings.TrimPrefix(srv.URL, "http://")
	return inst
}

func dockerService(name string, keepImages int, dockerHealth bool) *config.Service {
	return &config.Service{Name: name, Runtime: config.RuntimeDocker,
		Docker: &config.Docker{Image: "shop/" + name + ":{{.Version}}", KeepImages: keepImages},
		Health: config.Health{Docker: dockerHealth}}
}

var agentTestCheck = health.Check{Path: "/healthz", Interval: 10 * time.Millisecond, HealthyThreshold: 1}

func TestAgentGateWaitsForDockerHealth(t *testing.T) {
	e := newAgentTestEnv(t)
	e.rt.statuses = []string{"starting", "starting", "starting", dockerHealthHealthy}
	inst := e.start(t, dockerService("api", 0, true), "v1")
	res, err := e.agent.Gate(t.Context(), inst, agentTestCheck, 10*time.Second)
	if err != nil || !res.Healthy {
		t.Fatalf("Gate = %+v, %v; want healthy", res, err)
	}
	if n := e.rt.healthCalls(); n != 4 {
		t.Errorf("DockerHealth called %d times, want 4 (until healthy)", n)
	}
}

func TestAgentGateDockerHealthFailures(t *testing.T) {
	for _, tc := range []struct {
		name     string
		statuses []string
		want     string
	}{
		{"unhealthy fails at once", []string{"starting", dockerHealthUnhealthy}, "reports unhealthy"},
		{"deadline", []string{"starting"}, `still "starting" at the deploy deadline`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newAgentTestEnv(t)
			e.rt.statuses = tc.statuses
			inst := e.start(t, dockerService("api", 0, true), "v1")
			_, err := e.agent.Gate(t.Context(), inst, agentTestCheck, 500*time.Millisecond)
			if !errors.Is(err, health.ErrNotHealthy) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), inst.ID) {
				t.Fatalf("Gate error = %v, want ErrNotHealthy saying %q about %s", err, tc.want, inst.ID)
			}
		})
	}
}

func TestAgentGateIgnoresDockerHealthUnlessAsked(t *testing.T) {
	e := newAgentTestEnv(t)
	e.rt.statuses = []string{dockerHealthUnhealthy}
	inst := e.start(t, dockerService("api", 0, false), "v1")
	if _, err := e.agent.Gate(t.Context(), inst, agentTestCheck, 5*time.Second); err != nil {
		t.Fatalf("Gate = %v; health.docker is off, the HEALTHCHECK must not count", err)
	}
	if n := e.rt.healthCalls(); n != 0 {
		t.Errorf("DockerHealth called %d times with health.docker off", n)
	}
}

func TestAgentGateNoHealthcheckPasses(t *testing.T) {
	e := newAgentTestEnv(t)
	e.rt.statuses = []string{dockerHealthNone}
	inst := e.start(t, dockerService("api", 0, true), "v1")
	if _, err := e.agent.Gate(t.Context(), inst, agentTestCheck, 5*time.Second); err != nil {
		t.Fatalf("Gate = %v; an image without HEALTHCHECK has nothing to wait for", err)
	}
	if !strings.Contains(e.logs.String(), "no HEALTHCHECK") {
		t.Errorf("no warning logged:\n%s", e.logs)
	}
}

func TestAgentGateStopsWhenInstanceExits(t *testing.T) {
	e := newAgentTestEnv(t)
	e.rt.state = runtime.State{ExitCode: 3, Detail: "exited with code 3"}
	inst := e.start(t, dockerService("api", 0, true), "v1")
	inst.Addr = "127.0.0.1:1" // nothing listens: only the exit can end the gate early
	_, err := e.agent.Gate(t.Context(), inst, agentTestCheck, time.Minute)
	if err == nil || !strings.Contains(err.Error(), "exited with code 3") || !strings.Contains(err.Error(), inst.ID) {
		t.Fatalf("Gate error = %v, want the instance's exit detail", err)
	}
}

func TestAgentStopPrunesImages(t *testing.T) {
	e := newAgentTestEnv(t)
	inst := e.start(t, dockerService("api", 2, false), "v1")
	e.rt.listed = []runtime.Instance{
		{ID: "api-v2-1", Service: "api", Version: "v2"},
		{ID: "web-v9-1", Service: "web", Version: "v9"},
	}
	if err := e.agent.Stop(t.Context(), inst, time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case call := <-e.rt.prunes:
		if call.service != "api" || call.keepN != 2 || len(call.keep) != 1 || call.keep[0] != "v2" {
			t.Errorf("PruneImages(%q, %v, %d), want (api, [v2], 2)", call.service, call.keep, call.keepN)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no image prune after the stop")
	}
}

func TestAgentStopWithoutKeepImagesDoesNotPrune(t *testing.T) {
	e := newAgentTestEnv(t)
	inst := e.start(t, dockerService("api", 0, false), "v1")
	if err := e.agent.Stop(t.Context(), inst, time.Second); err != nil {
		t.Fatal(err)
	}
	_ = e.agent.Close() // waits for any prune
	if len(e.rt.prunes) != 0 {
		t.Errorf("images pruned although keep_images is 0")
	}
}

func TestAgentPruneFailureDoesNotFailStop(t *testing.T) {
	e := newAgentTestEnv(t)
	e.rt.pruneErr = errors.New("engine said no")
	inst := e.start(t, dockerService("api", 1, false), "v1")
	if err := e.agent.Stop(t.Context(), inst, time.Second); err != nil {
		t.Fatalf("Stop = %v; a prune failure must not fail the stop", err)
	}
	<-e.rt.prunes
	_ = e.agent.Close()
	if log := e.logs.String(); !strings.Contains(log, "image prune failed") || !strings.Contains(log, "engine said no") {
		t.Errorf("prune failure not logged:\n%s", log)
	}
	if len(e.rt.stopped) != 1 {
		t.Errorf("stopped %v, want the instance", e.rt.stopped)
	}
}

func TestAgentListKinds(t *testing.T) {
	e := newAgentTestEnv(t)
	e.rt.listed = []runtime.Instance{{ID: "api-v1-1", Service: "api", Version: "v1", Runtime: config.RuntimeDocker}}
	if got, err := e.agent.List(t.Context()); err != nil || len(got) != 0 {
		t.Fatalf("List before any use = %v, %v; want nothing asked", got, err)
	}
	e.agent.kinds = []string{config.RuntimeDocker, "missing"}
	got, err := e.agent.List(t.Context())
	if err != nil || len(got) != 1 || got[0].ID != "api-v1-1" {
		t.Fatalf("List = %v, %v; want the docker instance", got, err)
	}
	if !strings.Contains(e.logs.String(), "runtime unavailable") {
		t.Errorf("the kind the factory cannot create is not reported:\n%s", e.logs)
	}
}
