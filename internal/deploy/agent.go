package deploy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
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

// LocalAgent is the Agent of the host cutover runs on. It is safe for
// concurrent use.
//
// Beyond the runtimes themselves it applies two docker settings of a
// service, as given by the service definition of the latest Start of that
// service (a restarted cutover applies them from its first deploy on): with
// health.docker, Gate also waits for the image's HEALTHCHECK; with
// docker.keep_images, stopping a container prunes the service's unused images
// in the background. Close stops those background prunes.
type LocalAgent struct {
	proxy   *proxy.Proxy
	monitor *health.Monitor
	log     *slog.Logger
	factory func(kind string) (runtime.Runtime, error)
	kinds   []string // always listed
	prunes  *pruner

	mu       sync.Mutex
	runtimes map[string]runtime.Runtime
	settings map[string]serviceSettings // service → settings of its latest Start
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
	// Logger receives background failures, such as a failed image prune
	// (default slog.Default()).
	Logger *slog.Logger
	// ListKinds names runtime kinds List always asks, besides those already
	// in use: typically every kind the config uses, so that a restarted
	// cutover finds the leftover containers of a service its state no longer
	// names. A kind the factory cannot create is skipped with a warning.
	ListKinds []string
}

// NewLocalAgent returns an agent for this host.
func NewLocalAgent(opts LocalAgentOptions) (*LocalAgent, error) {
	if opts.Proxy == nil || opts.Monitor == nil || opts.Runtime == nil {
		return nil, fmt.Errorf("%w: local agent needs a proxy, a health monitor and a runtime factory", ErrInvalid)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &LocalAgent{
		proxy:    opts.Proxy,
		monitor:  opts.Monitor,
		log:      opts.Logger,
		factory:  opts.Runtime,
		kinds:    slices.Clone(opts.ListKinds),
		prunes:   newPruner(opts.Logger),
		runtimes: map[string]runtime.Runtime{},
		settings: map[string]serviceSettings{},
	}, nil
}

// Close cancels the image prunes running in the background and waits for
// them. Instances keep running. Close is idempotent; the agent stays usable
// but prunes no more images.
func (a *LocalAgent) Close() error {
	a.prunes.close()
	return nil
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

// Start implements Agent. It also takes the service's health.docker and
// docker.keep_images settings from spec for later Gate and Stop calls.
func (a *LocalAgent) Start(ctx context.Context, spec runtime.StartSpec) (runtime.Instance, error) {
	if spec.Service == nil {
		return runtime.Instance{}, fmt.Errorf("%w: start spec has no service", ErrInvalid)
	}
	rt, err := a.runtime(spec.Service.Runtime)
	if err != nil {
		return runtime.Instance{}, err
	}
	a.mu.Lock()
	a.settings[spec.Service.Name] = settingsOf(spec.Service)
	a.mu.Unlock()
	return rt.Start(ctx, spec)
}

// Stop implements Agent. When the runtime prunes images (docker) and the
// service sets docker.keep_images, a successful stop schedules a background
// prune of the service's images: the versions of its instances still present
// are kept, and the keep_images newest others. A prune failure is logged and
// never fails the stop.
func (a *LocalAgent) Stop(ctx context.Context, inst runtime.Instance, grace time.Duration) error {
	rt, err := a.runtime(inst.Runtime)
	if err != nil {
		return err
	}
	a.monitor.Unwatch(inst.ID)
	if err := rt.Stop(ctx, inst, grace); err != nil {
		return err
	}
	a.schedulePrune(rt, inst.Service)
	return nil
}

// schedulePrune prunes the images of service in the background when rt can
// and the service keeps a bounded number of images.
func (a *LocalAgent) schedulePrune(rt runtime.Runtime, service string) {
	ip, ok := rt.(imagePruner)
	if !ok {
		return
	}
	a.mu.Lock()
	keepN := a.settings[service].keepImages
	a.mu.Unlock()
	if keepN <= 0 {
		return
	}
	a.prunes.schedule(service, func(ctx context.Context) error {
		return pruneImages(ctx, rt, ip, service, keepN)
	})
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

// Gate implements Agent. It gives up as soon as the runtime reports the
// instance not running, with the runtime's detail ("exited with code 3",
// "killed: out of memory"). When the service sets health.docker and the
// runtime reports HEALTHCHECK status (docker), Gate also waits, after the
// HTTP or TCP check passed and within the same deadline, until the image's
// HEALTHCHECK reports healthy; "unhealthy" fails at once.
func (a *LocalAgent) Gate(ctx context.Context, inst runtime.Instance, check health.Check, deadline time.Duration) (health.Result, error) {
	start := time.Now()
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
	res, err := health.Gate(ctx, check, inst.Addr, deadline, health.WithAbort(abort))
	if err != nil {
		return res, err
	}
	a.mu.Lock()
	wait := a.settings[inst.Service].dockerHealth
	a.mu.Unlock()
	if !wait {
		return res, nil
	}
	rt, err := a.runtime(inst.Runtime)
	if err != nil {
		return res, err
	}
	dh, ok := rt.(dockerHealther)
	if !ok {
		return res, nil
	}
	var end time.Time // zero: no deadline, as for health.Gate
	if deadline > 0 {
		end = start.Add(deadline)
	}
	if err := gateDockerHealth(ctx, a.log, dh, inst, check.WithDefaults().Interval, end, abort); err != nil {
		return res, err
	}
	return res, nil
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

// List implements Agent: it asks every runtime already in use, and those
// of LocalAgentOptions.ListKinds, for the instances that carry cutover's
// marks. A runtime that cannot list is reported in the error while the
// instances the others found are still returned.
func (a *LocalAgent) List(ctx context.Context) ([]runtime.Instance, error) {
	for _, kind := range a.kinds {
		if _, err := a.runtime(kind); err != nil {
			a.log.Warn("runtime unavailable; its instances are not listed", "kind", kind, "err", err)
		}
	}
	a.mu.Lock()
	rts := make([]runtime.Runtime, 0, len(a.runtimes))
	for _, rt := range a.runtimes {
		rts = append(rts, rt)
	}
	a.mu.Unlock()
	var all []runtime.Instance
	var errs []error
	for _, rt := range rts {
		l, err := rt.List(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("list %s instances: %w", rt.Kind(), err))
			continue
		}
		all = append(all, l...)
	}
	return all, errors.Join(errs...)
}
