package fleet

import (
	"context"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/deploy"
	"github.com/cutover-dev/cutover/internal/metrics"
)

// Host is what a fleet agent drives on its own host: the local deploy
// controller. Every method may be called concurrently for different
// services; the agent runs at most one of Prepare, Commit, Abort and
// Converge at a time for one service.
type Host interface {
	// Services lists the services of this host's config.
	Services() []string
	// ConfigDigest returns the digest of a service's config and of each of
	// its top-level fields (see ServiceDigest).
	ConfigDigest(service string) (digest string, fields map[string]string, err error)
	// Prepare starts p.Version of p.Service beside the live version (or
	// finds it warm on standby) and gates it on health. It returns once the
	// version is ready to take traffic, or with the reason it cannot; ctx
	// ending abandons it. Nothing is routed to the new version yet.
	Prepare(ctx context.Context, p Plan) error
	// Commit switches the service to the version p prepared: the old
	// version drains and stays warm on standby. It is called once the
	// fleet committed p.
	Commit(ctx context.Context, p Plan) error
	// Settle waits until what follows a Commit on this host (draining the
	// old version, arming the standby window) is done.
	Settle(ctx context.Context, p Plan) error
	// Abort removes what Prepare started for p (a warm standby it found is
	// kept). It is idempotent.
	Abort(ctx context.Context, p Plan, why string) error
	// Applied returns the version this host routes for service ("" none).
	Applied(service string) string
	// Converge makes a.Version the version this host routes for service:
	// at once from what it still holds prepared for a.Version or from a
	// warm standby, else through a health-gated deploy; what it holds
	// prepared for another version is removed. It is how a host that
	// restarted, was lost or joined late catches up.
	Converge(ctx context.Context, service string, a Active) error
	// RetireStandby retires the standby of service when it runs version.
	RetireStandby(ctx context.Context, service, version, why string) error
	// Emit publishes a progress event of a fleet operation to the host's
	// event stream.
	Emit(ev deploy.Event)

	// SetCanaryWeight routes weight percent of this host's traffic of
	// p.Service to the canary p prepared (the first call adds it beside the
	// live version). For a canary plan, Commit promotes the canary and
	// Abort removes it from traffic first.
	SetCanaryWeight(ctx context.Context, p Plan, weight float64) error
	// CanaryStats returns this host's numbers of the live version and of
	// p's canary since it took traffic, and a canary instance that is
	// unhealthy ("" none); ok false before it took traffic.
	CanaryStats(p Plan) (baseline, canary metrics.Stats, unhealthy string, ok bool)
	// CanaryConfig returns the canary settings of service.
	CanaryConfig(service string) (config.Canary, error)
}
