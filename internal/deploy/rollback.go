package deploy

import (
	"context"
	"fmt"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/store"
)

// standbyGateTimeout bounds re-checking a standby whose health is not known
// to be good before switching back to it.
const standbyGateTimeout = 5 * time.Second

// startRollback validates and launches a rollback.
func (s *service) startRollback(req RollbackRequest, why string) (string, error) {
	st := s.state()
	target, fast := rollbackTarget(st, req.To)
	if target == "" {
		return "", fmt.Errorf("%w: service %s has no standby and no previous version; name one with --to VERSION", ErrNothingToRollBack, s.name)
	}
	if err := s.checkFloor(st, target, req.Force); err != nil {
		return "", err
	}
	op, ctx, err := s.begin(store.OpRollback, target)
	if err != nil {
		return "", err
	}
	how := "through a health-gated deploy"
	if fast {
		how = "to the warm standby"
	}
	op.emit(EventStep, "accepted", fmt.Sprintf("rollback of %s to %s %s (%s)", s.name, target, how, why), nil)
	if fast {
		op.expect("switching back to the standby "+target, time.Now().Add(standbyGateTimeout+s.config().DeployTimeout.D()))
	} else {
		op.expect("starting and gating "+target, time.Now().Add(s.config().DeployTimeout.D()))
	}
	s.run(op, ctx, "switch", func(ctx context.Context, op *opRun) result {
		if fast {
			if err := s.recordOp(ctx, op, store.PhaseSwitching); err != nil {
				return failed(ctx, err)
			}
			if err := s.rollbackToStandby(ctx, op, why); err == nil {
				return result{outcome: store.OutcomeDeployed, reason: why}
			} else {
				op.warn("rollback", "standby unusable (%v); deploying %s again instead", err, target)
			}
		}
		req := DeployRequest{Service: s.name, Version: target}
		if s.config().Strategy == config.StrategyRolling {
			// A rolling service's port pool is sized for its surge, not
			// for a second full set of instances.
			return s.runRolling(ctx, op, req)
		}
		return s.runSwitch(ctx, op, req)
	})
	return op.id, nil
}

// rollbackTarget picks the version to roll back to and whether the warm
// standby holds it.
func rollbackTarget(st store.ServiceState, to string) (string, bool) {
	if st.Standby != nil && (to == "" || to == st.Standby.Version) {
		return st.Standby.Version, true
	}
	if to != "" {
		return to, false
	}
	for _, v := range st.Versions {
		if st.Active == nil || v != st.Active.Version {
			return v, false
		}
	}
	return "", false
}

// rollbackToStandby switches traffic back to the standby release at once,
// then drains and stops the release it replaces.
func (s *service) rollbackToStandby(ctx context.Context, op *opRun, why string) error {
	st := s.state()
	sb := st.Standby
	if sb == nil {
		return fmt.Errorf("%w: no standby", ErrNothingToRollBack)
	}
	for _, in := range sb.Instances {
		state, err := s.c.opts.Agent.Inspect(ctx, in)
		if err != nil || !state.Running {
			return fmt.Errorf("standby %s is not running: %v%s", in.ID, err, state.Detail)
		}
	}
	chk, err := s.check()
	if err != nil {
		return err
	}
	for _, in := range sb.Instances {
		if s.c.opts.Agent.Healthy(in.ID) {
			continue
		}
		if _, err := s.c.opts.Agent.Gate(ctx, in, chk, standbyGateTimeout); err != nil {
			return fmt.Errorf("standby %s is not healthy: %w", in.ID, err)
		}
	}
	var retire store.Retirement
	_, took, err := s.commitRoute(ctx, func(st *store.ServiceState) {
		retire = store.Retirement{}
		if st.Active != nil && len(st.Active.Instances) > 0 {
			retire = retirement(st.Active.Version, st.Active.Instances, "rolled back", true)
			st.Retiring = append(st.Retiring, retire)
		}
		st.Active = cloneRelease(st.Standby)
		st.Active.Since = time.Now()
		st.Standby = nil
		st.StandbyUntil = time.Time{}
		if len(st.Versions) > 0 && st.Versions[0] == st.Active.Version {
			st.Versions = st.Versions[1:]
		}
		if st.Op != nil {
			st.Op.Phase = store.PhaseRetiring
		}
	})
	if err != nil {
		return err
	}
	s.stopTimers()
	op.steps["switch"] += took
	op.emit(EventStep, "rollback", fmt.Sprintf("traffic switched back to %s in %s (%s)", sb.Version, took, why),
		map[string]any{"switch_us": took.Microseconds()})
	if retire.Version != "" {
		op.info("retire", "%s is drained and stopped in the background", retire.Version)
		s.startRetirement(retire)
	}
	return nil
}

// OnHealth receives continuous health transitions of instances. An active
// instance turning unhealthy while a standby is warm rolls the service back
// automatically.
func (c *Controller) OnHealth(instanceID string, healthy bool, reason string) {
	if healthy {
		return
	}
	c.mu.Lock()
	svcs := c.serviceList()
	c.mu.Unlock()
	for _, s := range svcs {
		if s.instanceRole(instanceID) != "active" {
			continue
		}
		s.onActiveUnhealthy(instanceID, reason)
		return
	}
}

func (s *service) onActiveUnhealthy(id, reason string) {
	s.mu.Lock()
	op := s.op
	hasStandby := s.st.Standby != nil && time.Now().Before(s.st.StandbyUntil)
	version := ""
	if s.st.Active != nil {
		version = s.st.Active.Version
	}
	s.mu.Unlock()
	if !hasStandby {
		s.c.log.Warn("active instance unhealthy, no standby to roll back to", "service", s.name, "instance", id, "reason", reason)
		return
	}
	why := fmt.Sprintf("%s turned unhealthy after the switch (%s: %s)", version, id, reason)
	if op != nil {
		if op.acceptsPromote.Load() {
			select {
			case op.ctrl <- ctrlMsg{kind: ctrlUnhealthy, reason: why}:
			default:
			}
		}
		return
	}
	if h := s.c.opts.OnActiveUnhealthy; h != nil {
		s.c.log.Warn("asking the fleet to roll back", "service", s.name, "reason", why)
		h(s.name, why)
		return
	}
	s.c.log.Warn("rolling back automatically", "service", s.name, "reason", why)
	if _, err := s.startAutoRollback(why); err != nil {
		s.c.log.Error("automatic rollback", "service", s.name, "err", err)
	}
}

// startAutoRollback rolls back to the standby as a recorded operation whose
// outcome is rolled_back.
func (s *service) startAutoRollback(why string) (string, error) {
	st := s.state()
	if st.Standby == nil {
		return "", ErrNothingToRollBack
	}
	op, ctx, err := s.begin(store.OpRollback, st.Standby.Version)
	if err != nil {
		return "", err
	}
	op.emit(EventStep, "accepted", "automatic rollback: "+why, nil)
	s.run(op, ctx, "switch", func(ctx context.Context, op *opRun) result {
		if err := s.recordOp(ctx, op, store.PhaseSwitching); err != nil {
			return failed(ctx, err)
		}
		if err := s.rollbackToStandby(ctx, op, why); err != nil {
			return failed(ctx, err)
		}
		return result{outcome: store.OutcomeRolledBack, reason: why}
	})
	return op.id, nil
}

// retireAll drains and stops every instance of the service and deletes its
// state.
func (s *service) retireAll(ctx context.Context, why string) {
	st := s.state()
	s.c.opts.Agent.Unroute(s.name)
	var all []store.Release
	for _, r := range []*store.Release{st.Active, st.Candidate, st.Standby} {
		if r != nil {
			all = append(all, *r)
		}
	}
	for _, r := range all {
		s.drainAll(ctx, nil, r.Instances)
		s.stopInstances(ctx, nil, r.Instances, why)
	}
	if st.Op != nil {
		s.stopInstances(ctx, nil, st.Op.Started, why)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.c.opts.Store.Delete(context.WithoutCancel(ctx), s.name); err != nil {
		s.c.log.Error("delete state", "service", s.name, "err", err)
	}
	s.mu.Lock()
	s.st = store.ServiceState{Name: s.name}
	s.mu.Unlock()
}
