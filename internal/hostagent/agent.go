// Package hostagent is the agent of the host cutover runs on: it runs
// instances with the local runtimes, gates them on health, and owns this
// host's routing table (the proxy). It implements deploy.Agent.
package hostagent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/cutover-dev/cutover/internal/deploy"
	"github.com/cutover-dev/cutover/internal/health"
	"github.com/cutover-dev/cutover/internal/proxy"
	"github.com/cutover-dev/cutover/internal/runtime"
)

// Agent must satisfy the controller's interface.
var _ deploy.Agent = (*Agent)(nil)

// Agent is the deploy.Agent of the host cutover runs on. It is safe for
// concurrent use.
//
// Beyond the runtimes themselves it applies two docker settings of a
// service, as given by the service definition of the latest Start of that
// service (a restarted cutover applies them from its first deploy on): with
// health.docker, Gate also waits for the image's HEALTHCHECK; with
// docker.keep_images, stopping a container prunes the service's unused images
// in the background. Close stops those background prunes.
type Agent struct {
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

// Options configures a Agent.
type Options struct {
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

// New returns an agent for this host.
func New(opts Options) (*Agent, error) {
	if opts.Proxy == nil || opts.Monitor == nil || opts.Runtime == nil {
		return nil, fmt.Errorf("%w: host agent needs a proxy, a health monitor and a runtime factory", deploy.ErrInvalid)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Agent{
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
func (a *Agent) Close() error {
	a.prunes.close()
	return nil
}

func (a *Agent) runtime(kind string) (runtime.Runtime, error) {
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

// Start implements deploy.Agent. It also takes the service's health.docker and
// docker.keep_images settings from spec for later Gate and Stop calls.
func (a *Agent) Start(ctx context.Context, spec runtime.StartSpec) (runtime.Instance, error) {
	if spec.Service == nil {
		return runtime.Instance{}, fmt.Errorf("%w: start spec has no service", deploy.ErrInvalid)
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

// Stop implements deploy.Agent. When the runtime prunes images (docker) and the
// service sets docker.keep_images, a successful stop schedules a background
// prune of the service's images: the versions of its instances still present
// are kept, and the keep_images newest others. A prune failure is logged and
// never fails the stop.
func (a *Agent) Stop(ctx context.Context, inst runtime.Instance, grace time.Duration) error {
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
func (a *Agent) schedulePrune(rt runtime.Runtime, service string) {
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

// Inspect implements deploy.Agent.
func (a *Agent) Inspect(ctx context.Context, inst runtime.Instance) (runtime.State, error) {
	rt, err := a.runtime(inst.Runtime)
	if err != nil {
		return runtime.State{}, err
	}
	return rt.Inspect(ctx, inst)
}

// LogTail implements deploy.Agent.
func (a *Agent) LogTail(ctx context.Context, inst runtime.Instance, n int) string {
	rt, err := a.runtime(inst.Runtime)
	if err != nil {
		return ""
	}
	s, _ := rt.LogTail(ctx, inst, n)
	return s
}

// Gate implements deploy.Agent. It gives up as soon as the runtime reports the
// instance not running, with the runtime's detail ("exited with code 3",
// "killed: out of memory"). When the service sets health.docker and the
// runtime reports HEALTHCHECK status (docker), Gate also waits, after the
// HTTP or TCP check passed and within the same deadline, until the image's
// HEALTHCHECK reports healthy; "unhealthy" fails at once.
func (a *Agent) Gate(ctx context.Context, inst runtime.Instance, check health.Check, deadline time.Duration) (health.Result, error) {
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

// Route implements deploy.Agent.
func (a *Agent) Route(spec proxy.ServiceSpec) error { return a.proxy.UpdateService(spec) }

// Unroute implements deploy.Agent.
func (a *Agent) Unroute(service string) { a.proxy.RemoveService(service) }

// SetWeight implements deploy.Agent.
func (a *Agent) SetWeight(service string, percent float64) error {
	return a.proxy.SetWeight(service, percent)
}

// Drain implements deploy.Agent.
func (a *Agent) Drain(ctx context.Context, targetID string, timeout time.Duration) (proxy.DrainResult, error) {
	return a.proxy.Drain(ctx, targetID, timeout)
}

// Watch implements deploy.Agent.
func (a *Agent) Watch(inst runtime.Instance, check health.Check, initiallyHealthy bool) {
	a.proxy.SetHealthy(inst.ID, initiallyHealthy)
	a.monitor.Watch(inst.ID, inst.Addr, check, initiallyHealthy)
}

// Unwatch implements deploy.Agent.
func (a *Agent) Unwatch(id string) { a.monitor.Unwatch(id) }

// Healthy implements deploy.Agent.
func (a *Agent) Healthy(id string) bool {
	h, known := a.monitor.Healthy(id)
	return known && h
}

// InFlight implements deploy.Agent.
func (a *Agent) InFlight(id string) int64 { return a.proxy.InFlight(id) }

// List implements deploy.Agent: it asks every runtime already in use, and those
// of Options.ListKinds, for the instances that carry cutover's
// marks. A runtime that cannot list is reported in the error while the
// instances the others found are still returned.
func (a *Agent) List(ctx context.Context) ([]runtime.Instance, error) {
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
