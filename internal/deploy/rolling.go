package deploy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/runtime"
	"github.com/cutover-dev/cutover/internal/store"
)

// errNoProgress reports a rolling update that can neither add nor remove.
var errNoProgress = errors.New("rolling update cannot progress: max_surge and max_unavailable are both 0")

// errTurnedUnhealthy reports a new instance that failed its continuous
// health check after it joined.
var errTurnedUnhealthy = errors.New("turned unhealthy after joining")

// runRolling replaces the active instances in batches: new instances join
// only after their health gate, old ones leave only while serving capacity
// stays at or above replicas − max_unavailable. Replaced old instances stay
// warm (not routed) while ports allow, so a failure restores them first.
// A failure before any new instance served leaves traffic as it was
// (failed); after, the old version is restored (rolled back).
func (s *service) runRolling(ctx context.Context, op *opRun, req DeployRequest) result {
	sc := s.config()
	if s.state().Active == nil {
		op.info("rolling", "no live version yet: starting all %d instances at once", replicas(sc))
		return s.runSwitch(ctx, op, req)
	}
	if req.Version == op.from {
		return result{outcome: store.OutcomeFailed, reason: fmt.Sprintf(
			"%s is already live: a rolling update needs a new version label (or deploy with --strategy switch to restart it)", req.Version)}
	}
	if err := s.beginDeploy(ctx, op, req, store.PhaseRollingOut); err != nil {
		return failed(ctx, err)
	}
	old := s.state().Active.Instances
	if _, err := s.persist(ctx, func(st *store.ServiceState) {
		st.Candidate = &store.Release{Version: req.Version, Since: time.Now()}
	}); err != nil {
		return failed(ctx, err)
	}
	op.emit(EventStep, "rolling", fmt.Sprintf("replacing %d instance(s) of %s with %s: max_surge %d, max_unavailable %d",
		replicas(sc), op.from, req.Version, sc.Rolling.MaxSurge, sc.Rolling.MaxUnavailable),
		map[string]any{"replicas": replicas(sc), "max_surge": sc.Rolling.MaxSurge, "max_unavailable": sc.Rolling.MaxUnavailable})
	if err := s.rollTo(ctx, op, req.Version, s.versionTargets(sc, req.Version, req.Targets)); err != nil {
		return s.rollingFailed(ctx, op, err, old)
	}
	return s.finishRolling(ctx, op, req)
}

// rollingFailed restores the old version after err and builds the result.
func (s *service) rollingFailed(ctx context.Context, op *opRun, err error, old []runtime.Instance) result {
	res := failed(ctx, err)
	var ge *gateError
	if errors.As(err, &ge) {
		res.output = s.c.opts.Agent.LogTail(context.WithoutCancel(ctx), ge.inst, tailLines)
	}
	served := releaseLen(s.state().Candidate) > 0
	op.warn("rolling", "%v; restoring %s", err, op.from)
	if rerr := s.rollBack(context.WithoutCancel(ctx), op, op.from, old); rerr != nil {
		res.reason += "; restoring " + op.from + " failed: " + rerr.Error()
		return res
	}
	if served && res.outcome == store.OutcomeFailed {
		res.outcome = store.OutcomeRolledBack
	}
	return res
}

// finishRolling makes the candidate the active release. The replaced
// instances become the standby when every one of them was kept warm;
// a partial standby could not carry the traffic, so it is stopped.
func (s *service) finishRolling(ctx context.Context, op *opRun, req DeployRequest) result {
	sc := s.config()
	n := replicas(sc)
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
	op.emit(EventStep, "switch", fmt.Sprintf("all %d instances run %s", n, req.Version), nil)
	env := hookEnv{version: req.Version, previous: op.from}
	if err := s.runHook(context.WithoutCancel(ctx), op, "post_switch", sc.Hooks.PostSwitch, env); err != nil {
		op.warn("hook", "%v", err)
	}
	switch {
	case warm == nil:
		return result{outcome: store.OutcomeDeployed}
	case sc.StandbyDuration() <= 0:
		s.retireStandby(ctx, op, "no standby window configured")
		return result{outcome: store.OutcomeDeployed}
	case len(warm.Instances) < n:
		s.retireStandby(ctx, op, fmt.Sprintf("only %d of %d old instances could be kept warm (add ports to the pool to keep all)", len(warm.Instances), n))
		return result{outcome: store.OutcomeDeployed}
	}
	s.armStandby()
	op.info("standby", "%d instance(s) of %s stay warm until %s; `cutover rollback %s` switches back at once",
		len(warm.Instances), warm.Version, time.Now().Add(sc.StandbyDuration()).Format(time.TimeOnly), s.name)
	return result{outcome: store.OutcomeDeployed}
}

// versionTargets returns the static addresses of version's replicas
// (given with the deploy, else from the config), or nil.
func (s *service) versionTargets(sc *config.Service, version string, given []string) []string {
	if len(given) > 0 {
		return given
	}
	if sc.Runtime == config.RuntimeStatic && sc.Static != nil {
		return sc.Static.Targets[version]
	}
	return nil
}

// batchTargets returns the targets of replicas from..from+n-1, or nil when
// the version has none (the runtime then derives addresses itself).
func batchTargets(targets []string, from, n int) []string {
	if len(targets) == 0 {
		return nil
	}
	if from+n > len(targets) {
		return targets[min(from, len(targets)):]
	}
	return targets[from : from+n]
}

// rollTo moves instances from the active release to the candidate release
// (version) until the candidate holds every replica. Each round first
// retires as many old instances as max_unavailable allows, then starts as
// many new ones as max_surge allows, so a round replaces up to
// max_surge + max_unavailable instances. The routed instances never number
// fewer than replicas − max_unavailable, nor the running ones more than
// replicas + max_surge (warm old instances aside).
func (s *service) rollTo(ctx context.Context, op *opRun, version string, targets []string) error {
	sc := s.config()
	n, surge, unavail := replicas(sc), sc.Rolling.MaxSurge, sc.Rolling.MaxUnavailable
	begin := time.Now()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		st := s.state()
		if id := s.unhealthyOf(st.Candidate); id != "" {
			return fmt.Errorf("%s %w", id, errTurnedUnhealthy)
		}
		oldN, newN := releaseLen(st.Active), releaseLen(st.Candidate)
		if newN >= n {
			if oldN > 0 {
				return s.retireOld(ctx, op, st.Active.Instances, 0)
			}
			return nil
		}
		total := oldN + newN
		if k := min(oldN, total-(n-unavail)); k > 0 {
			if err := s.retireOld(ctx, op, st.Active.Instances[:k], n-newN); err != nil {
				return err
			}
			continue
		}
		batch := min(n+surge-total, n-newN)
		if batch <= 0 {
			return errNoProgress
		}
		op.emit(EventStep, "start", fmt.Sprintf("starting %d instance(s) of %s (%d/%d replaced)", batch, version, newN, n),
			map[string]any{"replaced": newN, "replicas": n, "batch": batch})
		insts, err := s.startGated(ctx, op, version, batch, batchTargets(targets, newN, batch))
		if err != nil {
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
	}
}

// startGated starts n instances of version and waits for their health
// gate; on failure they are stopped.
func (s *service) startGated(ctx context.Context, op *opRun, version string, n int, targets []string) ([]runtime.Instance, error) {
	insts, err := s.startInstances(ctx, op, version, n, targets)
	if err != nil {
		return nil, err
	}
	if err := s.gateAll(ctx, op, insts, time.Now()); err != nil {
		s.stopInstances(ctx, op, insts, "not healthy")
		return nil, err
	}
	return insts, nil
}

// unhealthyOf returns an instance of r its continuous health check reports
// unhealthy, or "".
func (s *service) unhealthyOf(r *store.Release) string {
	if r == nil {
		return ""
	}
	for _, in := range r.Instances {
		if !s.c.opts.Agent.Healthy(in.ID) {
			return in.ID
		}
	}
	return ""
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
	next, _, err := s.commitRoute(ctx, func(st *store.ServiceState) {
		st.Active.Instances = filterOut(st.Active.Instances, ids)
		if st.Op != nil {
			st.Op.Weight = rollingWeight(st)
		}
	})
	if err != nil {
		return err
	}
	op.info("rolling", "%d instance(s) of %s out of traffic, %d routed", len(insts), insts[0].Version,
		releaseLen(next.Active)+releaseLen(next.Candidate))
	s.drainAll(ctx, op, insts)
	keep := max(0, min(len(insts), freePorts(sc, s.state())-stillToStart))
	if sc.Runtime == config.RuntimeStatic || sc.StandbyDuration() <= 0 {
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

// freePorts returns how many ports of the pool no instance of the state
// holds; a service without a pool is not limited by ports.
func freePorts(sc *config.Service, st store.ServiceState) int {
	pool := sc.PortPool()
	if len(pool) == 0 {
		return 1 << 20
	}
	return len(pool) - len(portsInUse(st))
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
