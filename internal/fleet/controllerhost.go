package fleet

import (
	"context"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/deploy"
	"github.com/cutover-dev/cutover/internal/metrics"
)

// ControllerHost is the Host of a cutover serve process: its deploy
// controller.
type ControllerHost struct {
	C *deploy.Controller
}

var _ PreparedHost = ControllerHost{}

// Services implements Host.
func (h ControllerHost) Services() []string { return h.C.Services() }

// ConfigDigest implements Host.
func (h ControllerHost) ConfigDigest(service string) (string, map[string]string, error) {
	sc, err := h.C.ServiceConfig(service)
	if err != nil {
		return "", nil, err
	}
	d, f := ServiceDigest(sc)
	return d, f, nil
}

// Prepare implements Host.
func (h ControllerHost) Prepare(ctx context.Context, p Plan) error {
	return h.C.PrepareFleet(ctx, deploy.FleetRequest{
		ID:       p.ID,
		Rollback: p.Kind == KindRollback, Automatic: p.Automatic, Reason: p.Reason,
		DeployRequest: deploy.DeployRequest{
			Service: p.Service, Version: p.Version, Strategy: p.Strategy, Force: p.Force, Targets: p.Targets,
			Allow: p.Allow, Migrate: p.Migrate,
		},
		Canary: p.Strategy == config.StrategyCanary,
	})
}

// SetCanaryWeight implements Host.
func (h ControllerHost) SetCanaryWeight(ctx context.Context, p Plan, weight float64) error {
	return h.C.SetFleetCanaryWeight(ctx, p.ID, weight)
}

// CanaryStats implements Host.
func (h ControllerHost) CanaryStats(p Plan) (metrics.Stats, metrics.Stats, string, bool) {
	return h.C.FleetCanaryStats(p.ID)
}

// CanaryConfig implements Host.
func (h ControllerHost) CanaryConfig(service string) (config.Canary, error) {
	sc, err := h.C.ServiceConfig(service)
	if err != nil {
		return config.Canary{}, err
	}
	return sc.Canary, nil
}

// Prepared implements PreparedHost: the fleet operations the controller
// kept prepared across a restart.
func (h ControllerHost) Prepared() []Plan {
	var out []Plan
	for _, r := range h.C.FleetOperations() {
		out = append(out, Plan{ID: r.ID, Service: r.Service, Version: r.Version})
	}
	return out
}

// Commit implements Host.
func (h ControllerHost) Commit(ctx context.Context, p Plan) error { return h.C.CommitFleet(ctx, p.ID) }

// Settle implements Host.
func (h ControllerHost) Settle(ctx context.Context, p Plan) error { return h.C.SettleFleet(ctx, p.ID) }

// Abort implements Host.
func (h ControllerHost) Abort(ctx context.Context, p Plan, _ string) error {
	return h.C.AbortFleet(ctx, p.ID)
}

// Applied implements Host.
func (h ControllerHost) Applied(service string) string { return h.C.Applied(service) }

// Converge implements Host.
func (h ControllerHost) Converge(ctx context.Context, service string, a Active) error {
	return h.C.Converge(ctx, service, a.Version)
}

// RetireStandby implements Host.
func (h ControllerHost) RetireStandby(ctx context.Context, service, version, why string) error {
	return h.C.RetireStandbyVersion(ctx, service, version, why)
}

// Emit implements Host.
func (h ControllerHost) Emit(ev deploy.Event) { h.C.Publish(ev) }

// Previous returns the version a rollback goes to on this host.
func (h ControllerHost) Previous(service string) string { return h.C.Previous(service) }
