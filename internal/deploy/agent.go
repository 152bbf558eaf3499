package deploy

import (
	"context"
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
