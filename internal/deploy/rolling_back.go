package deploy

import (
	"context"
	"fmt"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/runtime"
	"github.com/cutover-dev/cutover/internal/store"
)

// rollBack restores version after a failed rolling update, in reverse
// batches under the same bounds as the rollout: warm old instances rejoin
// first (after a health check unless known healthy), missing ones are
// started and gated, and new instances leave only while at least
// replicas − max_unavailable instances stay routed. old lists the
// instances the rollout began with, whose addresses a static service
// reuses.
func (s *service) rollBack(ctx context.Context, op *opRun, version string, old []runtime.Instance) error {
	sc := s.config()
	n, surge, unavail := replicas(sc), sc.Rolling.MaxSurge, sc.Rolling.MaxUnavailable
	if _, err := s.persist(ctx, func(st *store.ServiceState) {
		if st.Op != nil {
			st.Op.Phase = store.PhaseUndoing
		}
	}); err != nil {
		return err
	}
	if err := s.rejoinWarm(ctx, op, version); err != nil {
		return err
	}
	for {
		st := s.state()
		oldN, newN := releaseLen(st.Active), releaseLen(st.Candidate)
		if oldN >= n {
			break
		}
		total := oldN + newN
		if k := min(newN, total-(n-unavail)); k > 0 {
			if err := s.removeCandidates(ctx, op, k); err != nil {
				return err
			}
			continue
		}
		batch := min(n+surge-total, n-oldN, freePorts(sc, st))
		if batch <= 0 {
			return fmt.Errorf("%w (%d of %d instances of %s run, no port free)", errNoProgress, oldN, n, version)
		}
		op.emit(EventStep, "rollback", fmt.Sprintf("starting %d instance(s) of %s (%d/%d restored)", batch, version, oldN, n), nil)
		insts, err := s.startGated(ctx, op, version, batch, s.missingTargets(sc, st, old, batch))
		if err != nil {
			return err
		}
		if _, _, err := s.commitRoute(ctx, func(st *store.ServiceState) {
			if st.Active == nil {
				st.Active = &store.Release{Version: version, Since: time.Now()}
			}
			st.Active.Instances = append(st.Active.Instances, insts...)
			if st.Op != nil {
				st.Op.Started = nil
				st.Op.Weight = rollingWeight(st)
			}
		}); err != nil {
			s.stopInstances(ctx, op, insts, "not recorded")
			return err
		}
		s.watchRelease(&store.Release{Instances: insts}, true)
	}
	if err := s.removeCandidates(ctx, op, -1); err != nil {
		return err
	}
	op.emit(EventStep, "rollback", fmt.Sprintf("all %d instances run %s again", n, version), nil)
	return nil
}

// rejoinWarm routes the warm old instances again. One that fails its
// health check is stopped; the rollback starts a fresh one instead.
func (s *service) rejoinWarm(ctx context.Context, op *opRun, version string) error {
	st := s.state()
	if st.Standby == nil {
		return nil
	}
	chk, err := s.check()
	if err != nil {
		return err
	}
	var ok, bad []runtime.Instance
	for _, in := range st.Standby.Instances {
		if !s.c.opts.Agent.Healthy(in.ID) {
			if _, err := s.c.opts.Agent.Gate(ctx, in, chk, standbyGateTimeout); err != nil {
				op.warn("rollback", "warm instance %s is not healthy (%v); starting a new one instead", in.ID, err)
				bad = append(bad, in)
				continue
			}
		}
		ok = append(ok, in)
	}
	if _, _, err := s.commitRoute(ctx, func(st *store.ServiceState) {
		if st.Active == nil {
			st.Active = &store.Release{Version: version, Since: time.Now()}
		}
		st.Active.Instances = append(st.Active.Instances, ok...)
		st.Standby = nil
		st.StandbyUntil = time.Time{}
		if st.Op != nil {
			st.Op.Weight = rollingWeight(st)
		}
	}); err != nil {
		return err
	}
	s.stopInstances(ctx, op, bad, "not healthy")
	if len(ok) > 0 {
		op.emit(EventStep, "rollback", fmt.Sprintf("%d warm instance(s) of %s serve again", len(ok), version), nil)
	}
	return nil
}

// removeCandidates takes k new instances (all when k < 0) out of routing,
// unhealthy ones first, then drains and stops them.
func (s *service) removeCandidates(ctx context.Context, op *opRun, k int) error {
	st := s.state()
	if st.Candidate == nil {
		return nil
	}
	gone := s.unhealthyFirst(st.Candidate.Instances)
	all := k < 0 || k >= len(gone)
	if k >= 0 && k < len(gone) {
		gone = gone[:k]
	}
	ids := map[string]bool{}
	for _, in := range gone {
		ids[in.ID] = true
	}
	if _, _, err := s.commitRoute(ctx, func(st *store.ServiceState) {
		if st.Candidate != nil {
			st.Candidate.Instances = filterOut(st.Candidate.Instances, ids)
		}
		if all {
			st.Candidate = nil
		}
		if st.Op != nil {
			st.Op.Weight = rollingWeight(st)
		}
	}); err != nil {
		return err
	}
	if len(gone) > 0 {
		s.drainAll(ctx, op, gone)
		s.stopInstances(ctx, op, gone, "rolled back")
	}
	return nil
}

// unhealthyFirst returns insts with the unhealthy ones first.
func (s *service) unhealthyFirst(insts []runtime.Instance) []runtime.Instance {
	var sick, well []runtime.Instance
	for _, in := range insts {
		if s.c.opts.Agent.Healthy(in.ID) {
			well = append(well, in)
		} else {
			sick = append(sick, in)
		}
	}
	return append(sick, well...)
}

// missingTargets returns, for a static service, the addresses of old
// instances not routed any more (at most n), so the rollback restores the
// same targets; nil for other runtimes.
func (s *service) missingTargets(sc *config.Service, st store.ServiceState, old []runtime.Instance, n int) []string {
	if sc.Runtime != config.RuntimeStatic {
		return nil
	}
	routed := map[string]bool{}
	if st.Active != nil {
		for _, in := range st.Active.Instances {
			routed[in.Addr] = true
		}
	}
	var out []string
	for _, in := range old {
		if !routed[in.Addr] && len(out) < n {
			out = append(out, in.Addr)
		}
	}
	return out
}
