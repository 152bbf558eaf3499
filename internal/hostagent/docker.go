package hostagent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/health"
	"github.com/cutover-dev/cutover/internal/runtime"
)

// Docker HEALTHCHECK states, as reported by a dockerHealther.
const (
	dockerHealthNone      = "none"
	dockerHealthHealthy   = "healthy"
	dockerHealthUnhealthy = "unhealthy"
)

// pruneTimeout bounds one image prune of one service.
const pruneTimeout = 2 * time.Minute

// dockerHealther is a runtime that reports the status of an instance's image
// HEALTHCHECK ("healthy", "unhealthy", "starting" or "none"), as the docker
// runtime does.
type dockerHealther interface {
	DockerHealth(ctx context.Context, inst runtime.Instance) (string, error)
}

// imagePruner is a runtime that removes a service's unused images, keeping
// the versions in keep and the keepN newest others, as the docker runtime
// does.
type imagePruner interface {
	PruneImages(ctx context.Context, service string, keep []string, keepN int) error
}

// serviceSettings are the per-service settings the agent applies beyond the
// runtime itself. They are taken from the service definition of the latest
// Start of that service.
type serviceSettings struct {
	// keepImages is docker.keep_images (0: never prune).
	keepImages int
	// dockerHealth is health.docker: the gate also waits for the image's
	// HEALTHCHECK.
	dockerHealth bool
}

// settingsOf extracts the agent's settings from a service definition.
func settingsOf(sc *config.Service) serviceSettings {
	var s serviceSettings
	if sc == nil {
		return s
	}
	if sc.Docker != nil {
		s.keepImages = sc.Docker.KeepImages
	}
	s.dockerHealth = sc.Health.Docker
	return s
}

// gateDockerHealth waits, after the HTTP or TCP gate passed, until the
// image's HEALTHCHECK reports healthy, polling every interval until
// deadline (zero: no deadline). It fails at once when the HEALTHCHECK reports unhealthy or abort
// fails (the container exited). An image without HEALTHCHECK passes, with a
// warning in the log, since there is nothing to wait for.
func gateDockerHealth(ctx context.Context, log *slog.Logger, dh dockerHealther, inst runtime.Instance,
	interval time.Duration, deadline time.Time, abort func() error) error {
	if interval <= 0 {
		interval = health.DefaultInterval
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
		if err := abort(); err != nil {
			return err
		}
		status, err := dh.DockerHealth(ctx, inst)
		if err != nil {
			return fmt.Errorf("docker HEALTHCHECK of %s: %w", inst.ID, err)
		}
		switch status {
		case dockerHealthHealthy:
			return nil
		case dockerHealthNone:
			log.Warn("health.docker is set but the image has no HEALTHCHECK; nothing to wait for",
				"service", inst.Service, "version", inst.Version, "instance", inst.ID)
			return nil
		case dockerHealthUnhealthy:
			return fmt.Errorf("%w: docker HEALTHCHECK of %s reports unhealthy although the health check passed", health.ErrNotHealthy, inst.ID)
		}
		wait := interval
		if !deadline.IsZero() {
			left := time.Until(deadline)
			if left <= 0 {
				return fmt.Errorf("%w: docker HEALTHCHECK of %s still %q at the deploy deadline", health.ErrNotHealthy, inst.ID, status)
			}
			wait = min(wait, left)
		}
		timer.Reset(wait)
	}
}

// pruner runs image prunes of services in the background: at most one at a
// time per service, a request made while one runs causing one more run after
// it. It owns its goroutines; close cancels them and waits.
type pruner struct {
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	running map[string]bool
	again   map[string]bool
	closed  bool
}

// newPruner returns a pruner logging to log.
func newPruner(log *slog.Logger) *pruner {
	ctx, cancel := context.WithCancel(context.Background())
	return &pruner{log: log, ctx: ctx, cancel: cancel, running: map[string]bool{}, again: map[string]bool{}}
}

// schedule asks for the images of service to be pruned by run. It never
// blocks; after close it does nothing.
func (p *pruner) schedule(service string, run func(ctx context.Context) error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if p.running[service] {
		p.again[service] = true
		return
	}
	p.running[service] = true
	p.wg.Go(func() { p.loop(service, run) })
}

// loop runs prunes of service until no new request is pending.
func (p *pruner) loop(service string, run func(ctx context.Context) error) {
	for {
		ctx, cancel := context.WithTimeout(p.ctx, pruneTimeout)
		err := run(ctx)
		cancel()
		if err != nil && !errors.Is(err, context.Canceled) {
			p.log.Warn("image prune failed", "service", service, "err", err)
		}
		p.mu.Lock()
		if p.again[service] && !p.closed {
			delete(p.again, service)
			p.mu.Unlock()
			continue
		}
		delete(p.running, service)
		delete(p.again, service)
		p.mu.Unlock()
		return
	}
}

// idle reports whether no prune runs or is pending.
func (p *pruner) idle() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.running) == 0
}

// close cancels running prunes and waits for them. It is idempotent.
func (p *pruner) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()
}

// pruneImages removes the unused images of service with rt: the versions of
// the service's instances rt still lists are kept, and keepN newest others.
func pruneImages(ctx context.Context, rt runtime.Runtime, ip imagePruner, service string, keepN int) error {
	list, err := rt.List(ctx)
	if err != nil {
		return fmt.Errorf("list instances before pruning images: %w", err)
	}
	var keep []string
	for _, in := range list {
		if in.Service == service {
			keep = append(keep, in.Version)
		}
	}
	return ip.PruneImages(ctx, service, keep, keepN)
}
