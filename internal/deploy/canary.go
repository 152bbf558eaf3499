package deploy

import (
	"context"
	"fmt"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/runtime"
	"github.com/cutover-dev/cutover/internal/store"
)

// runCanary starts the new version beside the live one, gates it, shifts
// traffic to it in steps while judging it against the live version, and
// then promotes it (the live version becomes the standby, as after a
// switch) or rolls it back: weight 0, canary drained and stopped.
func (s *service) runCanary(ctx context.Context, op *opRun, req DeployRequest) result {
	sc := s.config()
	if s.c.opts.Metrics == nil {
		return result{outcome: store.OutcomeFailed, reason: "canary analysis needs the proxy's metrics"}
	}
	p, failure := s.prepare(ctx, op, req, "canary")
	if failure != nil {
		return *failure
	}
	insts, env, undo := p.insts, p.env, p.undo
	steps := CanarySteps(sc.Canary.Steps)
	since, err := s.joinCanary(ctx, req.Version, insts)
	if err != nil {
		return undo(err)
	}
	op.acceptsCanary.Store(true)

	run := &canaryRun{s: s, op: op, sc: sc, version: req.Version, insts: insts, since: since, forced: req.Force}
	res := run.steps(ctx, steps)
	op.acceptsCanary.Store(false)
	if res.outcome == store.OutcomeDeployed {
		return s.promoteCanary(ctx, op, req, env)
	}
	if err := s.undoCanary(context.WithoutCancel(ctx), op, res.reason); err != nil {
		res.reason += "; removing the canary failed: " + err.Error()
	}
	return res
}

// joinCanary adds the candidate beside the active release at weight 0 and
// watches its health; it returns when it joined.
func (s *service) joinCanary(ctx context.Context, version string, insts []runtime.Instance) (time.Time, error) {
	since := time.Now()
	if _, _, err := s.commitRoute(ctx, func(st *store.ServiceState) {
		st.Candidate = &store.Release{Version: version, Instances: insts, Since: since}
		st.Op.Phase = store.PhaseCanary
		st.Op.Started = nil
		st.Op.Step = 0
		st.Op.Weight = 0
		st.Op.StartedAt = since
	}); err != nil {
		return time.Time{}, err
	}
	s.watchRelease(&store.Release{Instances: insts}, true)
	return since, nil
}

// CanarySteps returns the configured steps, ending before 100: passing the
// last step below 100 means promotion.
func CanarySteps(cfg []float64) []float64 {
	var out []float64
	for _, w := range cfg {
		if w > 0 && w < 100 {
			out = append(out, w)
		}
	}
	if len(out) == 0 {
		for _, w := range config.DefaultCanarySteps {
			if w < 100 {
				out = append(out, w)
			}
		}
	}
	return out
}

// setCanaryWeight records the canary's step (1-based), weight and pause
// state, then applies the weight to the routing table.
func (s *service) setCanaryWeight(ctx context.Context, step int, w float64, paused bool) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if _, err := s.persistSeq(ctx, func(st *store.ServiceState) {
		if st.Op != nil {
			st.Op.Step, st.Op.Weight, st.Op.Paused = step, w, paused
		}
	}); err != nil {
		return err
	}
	return s.c.opts.Agent.SetWeight(s.name, w)
}

// promoteCanary makes the canary the active release and the old one the standby.
func (s *service) promoteCanary(ctx context.Context, op *opRun, req DeployRequest, env hookEnv) result {
	old, err := s.promoteCanaryRoute(ctx, op, req)
	if err != nil {
		return failed(ctx, err)
	}
	return s.afterSwitch(ctx, op, req, old, env)
}

// promoteCanaryRoute commits the canary as the active release and returns
// the release it replaced; on failure the canary is removed again.
func (s *service) promoteCanaryRoute(ctx context.Context, op *opRun, req DeployRequest) (*store.Release, error) {
	sc := s.config()
	now := time.Now()
	var old *store.Release
	_, took, err := s.commitRoute(ctx, func(st *store.ServiceState) {
		old = cloneRelease(st.Active)
		st.Active = cloneRelease(st.Candidate)
		st.Active.Since = now
		st.Candidate = nil
		st.Standby = old
		st.StandbyUntil = now.Add(sc.StandbyDuration())
		if old != nil {
			st.Versions = prependVersion(st.Versions, old.Version)
		}
		st.Op.Phase = store.PhaseStandby
		st.Op.Weight = 0
		st.Op.Paused = false
	})
	if err != nil {
		if uerr := s.undoCanary(context.WithoutCancel(ctx), op, err.Error()); uerr != nil {
			s.c.log.Error("undo canary", "service", s.name, "err", uerr)
		}
		return nil, err
	}
	op.steps["switch"] = took
	op.emit(EventStep, "switch", fmt.Sprintf("%s promoted to all traffic in %s", req.Version, took), map[string]any{"switch_us": took.Microseconds()})
	return old, nil
}

// undoCanary sends all traffic back to the active release, then drains and
// stops the canary's instances.
func (s *service) undoCanary(ctx context.Context, op *opRun, why string) error {
	var cand *store.Release
	if _, _, err := s.commitRoute(ctx, func(st *store.ServiceState) {
		cand = cloneRelease(st.Candidate)
		st.Candidate = nil
		if st.Op != nil {
			st.Op.Weight = 0
			st.Op.Paused = false
			st.Op.Phase = store.PhaseUndoing
		}
	}); err != nil {
		return err
	}
	if cand == nil {
		return nil
	}
	op.emit(EventStep, "rollback", fmt.Sprintf("canary %s removed from traffic: %s", cand.Version, why), map[string]any{"weight": 0})
	s.drainAll(ctx, op, cand.Instances)
	s.stopInstances(ctx, op, cand.Instances, "canary removed")
	return nil
}

func trimFloat(f float64) string {
	return fmt.Sprintf("%g", f)
}
