package deploy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cutover-dev/cutover/internal/runtime"
	"github.com/cutover-dev/cutover/internal/store"
)

// errNoProgress reports a rolling update that can neither add nor remove.
var errNoProgress = errors.New("rolling update cannot progress: max_surge and max_unavailable are both 0")

// runRolling replaces the active instances in batches: new instances join
// only after their health gate, old ones leave only while serving capacity
// stays at or above replicas − max_unavailable. Replaced old instances stay
// warm (not routed) while ports allow, so a failure restores them first.
func (s *service) runRolling(ctx context.Context, op *opRun, req DeployRequest) result {
	sc := s.config()
	if s.state().Active == nil {
		op.info("rolling", "no live version yet: starting all %d instances at once", replicas(sc))
		return s.runSwitch(ctx, op, req)
	}
	if err := s.recordOp(ctx, op, store.PhaseRollingOut); err != nil {
		return failed(ctx, err)
	}
	if st := s.state(); st.Standby != nil {
		op.info("standby", "ending the standby of %s: a new deploy replaces it", st.Standby.Version)
		s.retireStandby(ctx, op, "replaced by a new deploy")
	}
	if err := s.runHook(ctx, op, "pre_start", sc.Hooks.PreStart, hookEnv{version: req.Version, previous: op.from}); err != nil {
		return failed(ctx, err)
	}
	if _, err := s.persist(ctx, func(st *store.ServiceState) {
		st.Candidate = &store.Release{Version: req.Version, Since: time.Now()}
	}); err != nil {
		return failed(ctx, err)
	}
	err := s.rollTo(ctx, op, req.Version, req.Targets)
	if err != nil {
		res := failed(ctx, err)
		var ge *gateError
		if errors.As(err, &ge) {
			res.output = s.c.opts.Agent.LogTail(context.WithoutCancel(ctx), ge.inst, tailLines)
		}
		op.warn("rolling", "%v; restoring %s", err, op.from)
		if rerr := s.rollBack(context.WithoutCancel(ctx), op, op.from); rerr != nil {
			res.reason += "; restoring " + op.from + " failed: " + rerr.Error()
			return res
		}
		if res.outcome == store.OutcomeFailed {
			res.outcome = store.OutcomeRolledBack
		}
		return res
	}
	now := time.Now()
	var warm *store.Release
	if _, _, err := s.commitRoute(ctx, func(st *store.ServiceState) {
		warm = cloneRelease(st.Standby)
		st.Active = cloneRelease(st.Candidate)
		st.Active.Since = now
		st.Candidate = nil
		if st.Standby != nil {
			st.StandbyUntil = now.Add(sc.StandbyDuration())
		}
		st.Versions = prependVersion(st.Versions, op.from)
		st.Op.Phase = store.PhaseStandby
		st.Op.Weight = 0
	}); err != nil {
		return failed(ctx, err)
	}
	op.emit(EventStep, "switch", fmt.Sprintf("all %d instances run %s", replicas(sc), req.Version), nil)
	env := hookEnv{version: req.Version, previous: op.from}
	if err := s.runHook(context.WithoutCancel(ctx), op, "post_switch", sc.Hooks.PostSwitch, env); err != nil {
		op.warn("hook", "%v", err)
	}
	if warm == nil {
		return result{outcome: store.OutcomeDeployed}
	}
	if sc.StandbyDuration() <= 0 {
		s.retireStandby(ctx, op, "no standby window configured")
		return result{outcome: store.OutcomeDeployed}
	}
	s.armStandby()
	op.info("standby", "%d instance(s) of %s stay warm until %s", len(warm.Instances), warm.Version, time.Now().Add(sc.StandbyDuration()).Format(time.TimeOnly))
	return result{outcome: store.OutcomeDeployed}
}

// rollTo moves instances from the active release to the candidate release
// (version) until the candidate holds every replica.
func (s *service) rollTo(ctx context.Context, op *opRun, version string, targets []string) error {
	sc := s.config()
	n, surge, unavail := replicas(sc), sc.Rolling.MaxSurge, sc.Rolling.MaxUnavailable
	begin := time.Now()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		st := s.state()
		oldN, newN := releaseLen(st.Active), releaseLen(st.Candidate)
		if newN >= n {
			if oldN > 0 {
				return s.retireOld(ctx, op, st.Active.Instances, n)
			}
			return nil
		}
		total := oldN + newN
		room := n + surge - total
		if room <= 0 {
			k := min(oldN, total-(n-unavail), n-newN)
			if k <= 0 {
				return errNoProgress
			}
			if err := s.retireOld(ctx, op, st.Active.Instances[:k], n-newN-k); err != nil {
				return err
			}
			continue
		}
		batch := min(room, n-newN)
		op.emit(EventStep, "start", fmt.Sprintf("starting %d instance(s) of %s (%d/%d replaced)", batch, version, newN, n), nil)
		insts, err := s.startInstances(ctx, op, version, batch, targets)
		if err != nil {
			return err
		}
		if err := s.gateAll(ctx, op, insts, time.Now()); err != nil {
			s.stopInstances(ctx, op, insts, "not healthy")
			return err
		}
		if _, _, err := s.commitRoute(ctx, func(st *store.ServiceState) {
			st.Candidate.Instances = append(st.Candidate.Instances, insts...)
			if st.Op != nil {
				st.Op.Started = nil
				st.Op.Weight = rollingWeight(st)
			}
		}); err != nil {
			s.stopInstances(ctx, op, insts, "not recorded")
			return err
		}
		s.watchRelease(&store.Release{Instances: insts}, true)
		op.info("rolling", "%d/%d instances run %s (%s)", newN+batch, n, version, time.Since(begin).Round(time.Millisecond))
		if extra := oldN + newN + batch - n; extra > 0 {
			if err := s.retireOld(ctx, op, s.state().Active.Instances[:min(extra, oldN)], n-newN-batch); err != nil {
				return err
			}
		}
	}
}

func releaseLen(r *store.Release) int {
	if r == nil {
		return 0
	}
	return len(r.Instances)
}

func rollingWeight(st *store.ServiceState) float64 {
	a, c := releaseLen(st.Active), releaseLen(st.Candidate)
	if a+c == 0 {
		return 0
	}
	return 100 * float64(c) / float64(a+c)
}

// retireOld takes insts out of routing, drains them, then keeps them warm
// in the standby release when the port pool still has room for the
// stillToStart instances the rollout needs, else stops them.
func (s *service) retireOld(ctx context.Context, op *opRun, insts []runtime.Instance, stillToStart int) error {
	insts = append([]runtime.Instance(nil), insts...)
	sc := s.config()
	ids := map[string]bool{}
	for _, in := range insts {
		ids[in.ID] = true
	}
	if _, _, err := s.commitRoute(ctx, func(st *store.ServiceState) {
		st.Active.Instances = filterOut(st.Active.Instances, ids)
		if st.Op != nil {
			st.Op.Weight = rollingWeight(st)
		}
	}); err != nil {
		return err
	}
	s.drainAll(ctx, op, insts)
	st := s.state()
	free := len(sc.PortPool()) - len(portsInUse(st))
	keep := max(0, min(len(insts), free-stillToStart))
	if sc.Runtime == "static" || sc.StandbyDuration() <= 0 {
		keep = 0
	}
	warm, stop := insts[:keep], insts[keep:]
	if len(warm) > 0 {
		if _, err := s.persist(ctx, func(st *store.ServiceState) {
			if st.Standby == nil {
				st.Standby = &store.Release{Version: warm[0].Version, Since: time.Now()}
			}
			st.Standby.Instances = append(st.Standby.Instances, warm...)
			st.StandbyUntil = time.Now().Add(sc.StandbyDuration())
		}); err != nil {
			return err
		}
		op.info("rolling", "%d old instance(s) kept warm", len(warm))
	}
	if len(stop) > 0 {
		s.stopInstances(ctx, op, stop, "replaced")
	}
	return nil
}

func filterOut(l []runtime.Instance, ids map[string]bool) []runtime.Instance {
	out := l[:0:0]
	for _, in := range l {
		if !ids[in.ID] {
			out = append(out, in)
		}
	}
	return out
}

// rollBack restores version after a failed rolling update: warm old
// instances rejoin first, missing ones are started and gated, then the new
// instances are drained and stopped.
func (s *service) rollBack(ctx context.Context, op *opRun, version string) error {
	sc := s.config()
	n := replicas(sc)
	if _, _, err := s.commitRoute(ctx, func(st *store.ServiceState) {
		if st.Standby != nil {
			if st.Active == nil {
				st.Active = &store.Release{Version: version, Since: time.Now()}
			}
			st.Active.Instances = append(st.Active.Instances, st.Standby.Instances...)
			st.Standby = nil
			st.StandbyUntil = time.Time{}
		}
		if st.Op != nil {
			st.Op.Phase = store.PhaseUndoing
			st.Op.Weight = rollingWeight(st)
		}
	}); err != nil {
		return err
	}
	for releaseLen(s.state().Active) < n {
		missing := n - releaseLen(s.state().Active)
		insts, err := s.startInstances(ctx, op, version, missing, nil)
		if err != nil {
			return err
		}
		if err := s.gateAll(ctx, op, insts, time.Now()); err != nil {
			s.stopInstances(ctx, op, insts, "not healthy")
			return err
		}
		if _, _, err := s.commitRoute(ctx, func(st *store.ServiceState) {
			st.Active.Instances = append(st.Active.Instances, insts...)
			if st.Op != nil {
				st.Op.Started = nil
				st.Op.Weight = rollingWeight(st)
			}
		}); err != nil {
			return err
		}
		s.watchRelease(&store.Release{Instances: insts}, true)
	}
	var cand *store.Release
	if _, _, err := s.commitRoute(ctx, func(st *store.ServiceState) {
		cand = cloneRelease(st.Candidate)
		st.Candidate = nil
		if st.Op != nil {
			st.Op.Weight = 0
		}
	}); err != nil {
		return err
	}
	if cand != nil {
		s.drainAll(ctx, op, cand.Instances)
		s.stopInstances(ctx, op, cand.Instances, "rolled back")
	}
	op.emit(EventStep, "rollback", fmt.Sprintf("all %d instances run %s again", n, version), nil)
	return nil
}
