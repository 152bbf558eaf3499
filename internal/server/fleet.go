package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/coord"
	etcdstore "github.com/cutover-dev/cutover/internal/coord/etcd"
	localstore "github.com/cutover-dev/cutover/internal/coord/local"
	"github.com/cutover-dev/cutover/internal/deploy"
	"github.com/cutover-dev/cutover/internal/fleet"
	"github.com/cutover-dev/cutover/internal/store"
)

// openCoord opens the coordination store the cluster block names.
func openCoord(ctx context.Context, cfg *config.Config, log *slog.Logger) (coord.Store, error) {
	cl := cfg.Cluster
	switch cl.Backend {
	case config.ClusterEtcd:
		pw, err := cl.Password(os.LookupEnv)
		if err != nil {
			return nil, err
		}
		st, err := etcdstore.Open(ctx, etcdstore.Options{
			Endpoints: cl.Endpoints, CAFile: cl.TLS.CA, CertFile: cl.TLS.Cert, KeyFile: cl.TLS.Key,
			Username: cl.Username, Password: pw, Logger: log,
		})
		if err != nil {
			return nil, fmt.Errorf("cluster: connect to etcd %v: %w", cl.Endpoints, err)
		}
		return st, nil
	case config.ClusterEmbedded:
		return openEmbedded(ctx, cfg, log)
	default:
		st, err := localstore.Open(filepath.Join(cfg.StateDir, "coord"), localstore.Options{})
		if err != nil {
			return nil, fmt.Errorf("cluster: open the local coordination store: %w", err)
		}
		return st, nil
	}
}

// startFleet joins this host to its fleet (a fleet of one with the local
// backend).
func startFleet(ctx context.Context, cfg *config.Config, st coord.Store, ctl *deploy.Controller, log *slog.Logger) (*fleet.Agent, error) {
	agent, err := fleet.NewAgent(fleet.AgentOptions{
		Store: st, Prefix: cfg.Cluster.Prefix, Name: cfg.Cluster.Name, Host: fleet.ControllerHost{C: ctl},
		LeaseTTL: cfg.Cluster.LeaseTTL.D(), StateDir: cfg.StateDir, Logger: log,
		Adopt: cfg.Cluster.Backend == config.ClusterLocal,
	})
	if err != nil {
		return nil, err
	}
	if err := agent.Start(ctx); err != nil {
		return nil, err
	}
	return agent, nil
}

// fleetBackend sends the operations that change what the fleet serves
// through the fleet; the rest goes to the local controller.
type fleetBackend struct {
	*backend
	members *atomic.Pointer[fleet.Agent] // this host's member; replaced when an upgrade fails
	local   bool                         // the local backend: a fleet of one
}

// agent returns this host's fleet member.
func (b *fleetBackend) agent() *fleet.Agent { return b.members.Load() }

// Deploy implements api.Backend: a switch deploy goes through the fleet's
// commit; canary and rolling run on this host (fleet of one) under the
// fleet's lock.
func (b *fleetBackend) Deploy(ctx context.Context, req deploy.DeployRequest) (string, error) {
	sc, err := b.Controller.ServiceConfig(req.Service)
	if err != nil {
		return "", err
	}
	if err := deploy.CheckFiles(sc, req.Version); err != nil {
		return "", err
	}
	strategy := req.Strategy
	if strategy == "" {
		strategy = sc.Strategy
	}
	if strategy != config.StrategySwitch && b.local {
		// A fleet of one: the controller's own canary and rolling update.
		return b.localOp(ctx, req.Service, strategy, func() (string, error) { return b.Controller.Deploy(ctx, req) })
	}
	if req.Batch > 0 && strategy != config.StrategyRolling {
		return "", fmt.Errorf("%w: batch %d: --batch applies to the rolling strategy; add --strategy rolling", deploy.ErrInvalid, req.Batch)
	}
	var watch time.Duration
	if req.Watch != "" {
		if watch, err = time.ParseDuration(req.Watch); err != nil || watch < 0 {
			return "", fmt.Errorf("%w: watch %q: give a duration such as 30s", deploy.ErrInvalid, req.Watch)
		}
	}
	return b.agent().Deploy(ctx, fleet.DeployRequest{
		Kind: fleet.KindDeploy, Service: req.Service, Version: req.Version, Strategy: strategy,
		Force: req.Force, Targets: req.Targets, Watch: min(watch, sc.StandbyDuration()), AllowLost: req.AllowLost,
		PrepareTimeout: sc.DeployTimeout.D() + 5*time.Second, Batch: req.Batch,
	})
}

// localOp runs a canary or rolling update of a fleet of one on this host's
// controller, under the fleet's lock.
func (b *fleetBackend) localOp(ctx context.Context, service, strategy string, start func() (string, error)) (string, error) {
	return b.agent().RunLocal(ctx, service, start, func(id string) error {
		return b.Controller.WaitOp(context.WithoutCancel(ctx), service, id)
	})
}

// Rollback implements api.Backend: back to the previous committed version
// on every host.
func (b *fleetBackend) Rollback(ctx context.Context, req deploy.RollbackRequest) (string, error) {
	sc, err := b.Controller.ServiceConfig(req.Service)
	if err != nil {
		return "", err
	}
	if sc.Strategy == config.StrategyRolling && b.local {
		return b.localOp(ctx, req.Service, sc.Strategy, func() (string, error) { return b.Controller.Rollback(ctx, req) })
	}
	return b.agent().Deploy(ctx, fleet.DeployRequest{
		Kind: fleet.KindRollback, Service: req.Service, Version: req.To, Strategy: config.StrategySwitch,
		PrepareTimeout: sc.DeployTimeout.D() + 5*time.Second, Reason: "requested by user",
	})
}

// Promote implements api.Backend: a canary is promoted on this host; a
// standby is retired on every host.
func (b *fleetBackend) Promote(ctx context.Context, service string) error {
	if b.Controller.CanaryRunning(service) {
		return b.Controller.Promote(ctx, service)
	}
	return b.agent().Promote(ctx, service)
}

// Pause implements api.Backend: a canary of this host's controller, else
// the fleet's canary on every host.
func (b *fleetBackend) Pause(ctx context.Context, service string) error {
	if b.local || b.Controller.CanaryRunning(service) {
		return b.Controller.Pause(ctx, service)
	}
	return b.agent().Pause(ctx, service)
}

// Resume implements api.Backend.
func (b *fleetBackend) Resume(ctx context.Context, service string) error {
	if b.local || b.Controller.CanaryRunning(service) {
		return b.Controller.Resume(ctx, service)
	}
	return b.agent().Resume(ctx, service)
}

// SetWeight implements api.Backend.
func (b *fleetBackend) SetWeight(ctx context.Context, service string, percent float64) error {
	if b.local || b.Controller.CanaryRunning(service) {
		return b.Controller.SetWeight(ctx, service, percent)
	}
	return b.agent().SetWeight(ctx, service, percent)
}

// History implements api.Backend: in a fleet of many, the fleet's
// operations as their coordinators recorded them; in a fleet of one, this
// host's.
func (b *fleetBackend) History(ctx context.Context, service string, limit int) ([]store.HistoryRecord, error) {
	if b.local {
		return b.Controller.History(ctx, service, limit)
	}
	return b.agent().History(ctx, service, limit)
}

// Abort implements api.Backend.
func (b *fleetBackend) Abort(ctx context.Context, service string) error {
	if err := b.agent().Abort(ctx, service); err == nil {
		return nil
	}
	return b.Controller.Abort(ctx, service)
}

// Fleet implements api.FleetBackend.
func (b *fleetBackend) Fleet(ctx context.Context) (fleet.Status, error) {
	return b.agent().Status(), nil
}

// RemoveHost implements api.FleetBackend.
func (b *fleetBackend) RemoveHost(ctx context.Context, name string) error {
	return b.agent().Remove(name)
}

// fleetRollback rolls the fleet back after this host saw its active version
// turn unhealthy within the standby window.
func fleetRollback(member *fleet.Agent, service, reason string, log *slog.Logger) {
	if member == nil {
		return
	}
	go func() {
		_, err := member.Deploy(context.Background(), fleet.DeployRequest{
			Kind: fleet.KindRollback, Service: service, Strategy: config.StrategySwitch,
			PrepareTimeout: time.Minute, Reason: reason, Automatic: true,
		})
		if err != nil {
			log.Error("fleet rollback after an unhealthy active version", "service", service, "err", err)
		}
	}()
}
