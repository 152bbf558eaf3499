package deploy

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/cutover-dev/cutover/internal/health"
	"github.com/cutover-dev/cutover/internal/proxy"
	"github.com/cutover-dev/cutover/internal/runtime"
)

// Agent carries out the controller's decisions on one host: it runs
// instances, gates them on health, and owns that host's routing table. The
// controller drives one in-process agent today; a multi-host controller
// drives one per host through the coordination store.
type Agent interface {
	// Start starts one instance with the runtime the service names.
	Start(ctx context.Context, spec runtime.StartSpec) (runtime.Instance, error)
	// Stop stops an instance (signal, grace, kill, remove).
	Stop(ctx context.Context, inst runtime.Instance, grace time.Duration) error
	// Inspect reports whether an instance is alive.
	Inspect(ctx context.Context, inst runtime.Instance) (runtime.State, error)
	// LogTail returns the last n lines of an instance's output ("" if none).
	LogTail(ctx context.Context, inst runtime.Instance, n int) string
	// Gate waits until inst passes check within deadline; it gives up early
	// when the instance exits.
	Gate(ctx context.Context, inst runtime.Instance, check health.Check, deadline time.Duration) (health.Result, error)
	// Route publishes the routing of one service atomically.
	Route(spec proxy.ServiceSpec) error
	// Unroute removes a service from the routing table.
	Unroute(service string)
	// SetWeight changes a service's candidate percentage atomically.
	SetWeight(service string, percent float64) error
	// Drain stops new requests to a target and waits for its in-flight ones.
	Drain(ctx context.Context, targetID string, timeout time.Duration) (proxy.DrainResult, error)
	// Watch starts continuous health checks of an instance; the result
	// feeds the balancer and the controller's OnHealth callback.
	Watch(inst runtime.Instance, check health.Check, initiallyHealthy bool)
	// Unwatch stops checking an instance.
	Unwatch(id string)
	// Healthy reports an instance's last continuous health (false when unknown).
	Healthy(id string) bool
	// List returns instances the runtimes can enumerate by cutover's marks
	// (containers by label, processes by environment).
	List(ctx context.Context) ([]runtime.Instance, error)
	// InFlight returns a target's in-flight request count.
	InFlight(id string) int64
}

// LocalAgent is the Agent of the host cutover runs on. It is safe for concurrent use.
type LocalAgent struct {
	proxy    *proxy.Proxy
	monitor  *health.Monitor
	mu       sync.Mutex
	runtimes map[string]runtime.Runtime
	factory  func(kind string) (runtime.Runtime, error)
}

// LocalAgentOptions configures a LocalAgent.
type LocalAgentOptions struct {
	// Proxy is the data plane this host serves with (required).
	Proxy *proxy.Proxy
	// Monitor runs continuous health checks (required).
	Monitor *health.Monitor
	// Runtime returns the runtime of a kind; it is called once per kind, on
	// first use, so an unused runtime (docker) needs nothing installed.
	Runtime func(kind string) (runtime.Runtime, error)
}

// NewLocalAgent returns an agent for this host.
func NewLocalAgent(opts LocalAgentOptions) (*LocalAgent, error) {
	if opts.Proxy == nil || opts.Monitor == nil || opts.Runtime == nil {
		return nil, fmt.Errorf("%w: local agent needs a proxy, a health monitor and a runtime factory", ErrInvalid)
	}
	return &LocalAgent{proxy: opts.Proxy, monitor: opts.Monitor, runtimes: map[string]runtime.Runtime{}, factory: opts.Runtime}, nil
}

func (a *LocalAgent) runtime(kind string) (runtime.Runtime, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if rt, ok := a.runtimes[kind]; ok {
		return rt, nil
	}
	rt, err := a.factory(kind)
	if err != nil {
		return nil, fmt.Errorf("runtime %s: %w", kind, err)
	}
	a.runtimes[kind] = rt
	return rt, nil
}

// Start implements Agent.
func (a *LocalAgent) Start(ctx context.Context, spec runtime.StartSpec) (runtime.Instance, error) {
	rt, err := a.runtime(spec.Service.Runtime)
	if err != nil {
		return runtime.Instance{}, err
	}
	return rt.Start(ctx, spec)
}

// Stop implements Agent.
func (a *LocalAgent) Stop(ctx context.Context, inst runtime.Instance, grace time.Duration) error {
	rt, err := a.runtime(inst.Runtime)
	if err != nil {
		return err
	}
	a.monitor.Unwatch(inst.ID)
	return rt.Stop(ctx, inst, grace)
}

// Inspect implements Agent.
func (a *LocalAgent) Inspect(ctx context.Context, inst runtime.Instance) (runtime.State, error) {
	rt, err := a.runtime(inst.Runtime)
	if err != nil {
		return runtime.State{}, err
	}
	return rt.Inspect(ctx, inst)
}

// LogTail implements Agent.
func (a *LocalAgent) LogTail(ctx context.Context, inst runtime.Instance, n int) string {
	rt, err := a.runtime(inst.Runtime)
	if err != nil {
		return ""
	}
	s, _ := rt.LogTail(ctx, inst, n)
	return s
}

// Gate implements Agent.
func (a *LocalAgent) Gate(ctx context.Context, inst runtime.Instance, check health.Check, deadline time.Duration) (health.Result, error) {
	abort := func() error {
		st, err := a.Inspect(ctx, inst)
		if err != nil {
			return fmt.Errorf("instance %s is gone: %w", inst.ID, err)
		}
		if !st.Running {
			return fmt.Errorf("instance %s %s", inst.ID, st.Detail)
		}
		return nil
	}
	return health.Gate(ctx, check, inst.Addr, deadline, health.WithAbort(abort))
}

// Route implements Agent.
func (a *LocalAgent) Route(spec proxy.ServiceSpec) error { return a.proxy.UpdateService(spec) }

// Unroute implements Agent.
func (a *LocalAgent) Unroute(service string) { a.proxy.RemoveService(service) }

// SetWeight implements Agent.
func (a *LocalAgent) SetWeight(service string, percent float64) error {
	return a.proxy.SetWeight(service, percent)
}

// Drain implements Agent.
func (a *LocalAgent) Drain(ctx context.Context, targetID string, timeout time.Duration) (proxy.DrainResult, error) {
	return a.proxy.Drain(ctx, targetID, timeout)
}

// Watch implements Agent.
func (a *LocalAgent) Watch(inst runtime.Instance, check health.Check, initiallyHealthy bool) {
	a.proxy.SetHealthy(inst.ID, initiallyHealthy)
	a.monitor.Watch(inst.ID, inst.Addr, check, initiallyHealthy)
}

// Unwatch implements Agent.
func (a *LocalAgent) Unwatch(id string) { a.monitor.Unwatch(id) }

// Healthy implements Agent.
func (a *LocalAgent) Healthy(id string) bool {
	h, known := a.monitor.Healthy(id)
	return known && h
}

// InFlight implements Agent.
func (a *LocalAgent) InFlight(id string) int64 { return a.proxy.InFlight(id) }

// List implements Agent: it asks every runtime already in use, plus docker
// when it is reachable, for the instances that carry cutover's marks.
func (a *LocalAgent) List(ctx context.Context) ([]runtime.Instance, error) {
	a.mu.Lock()
	rts := make([]runtime.Runtime, 0, len(a.runtimes))
	for _, rt := range a.runtimes {
		rts = append(rts, rt)
	}
	a.mu.Unlock()
	var all []runtime.Instance
	for _, rt := range rts {
		l, err := rt.List(ctx)
		if err != nil {
			return nil, fmt.Errorf("list %s instances: %w", rt.Kind(), err)
		}
		all = append(all, l...)
	}
	return all, nil
}
