package deploy

import (
	"context"
	"fmt"
	"time"

	"github.com/cutover-dev/cutover/internal/runtime"
	"github.com/cutover-dev/cutover/internal/store"
)

// beginDeploy records the operation before anything is started, ends the
// standby window (a rolling update keeps the instances it replaces warm in
// the standby release, so the previous standby must go) and runs the
// pre_start hook. On failure nothing has changed.
func (s *service) beginDeploy(ctx context.Context, op *opRun, req DeployRequest, phase store.Phase) error {
	if err := s.recordOp(ctx, op, phase); err != nil {
		return err
	}
	if st := s.state(); st.Standby != nil {
		op.info("standby", "ending the standby of %s: a new deploy replaces it", st.Standby.Version)
		s.retireStandby(ctx, op, "replaced by a new deploy")
	}
	if err := s.runHook(ctx, op, "pre_start", s.config().Hooks.PreStart, hookEnv{version: req.Version, previous: op.from}); err != nil {
		return err
	}
	return s.runMigrations(ctx, op, req)
}

// displaced is a standby stopped to free the ports a deploy needs, to be
// started again if the deploy fails.
type displaced struct {
	release *store.Release
	until   time.Time
}

// makeRoom keeps the standby, the rollback target, warm while the new
// version starts when the port pool has room for n new instances beside
// it. Otherwise it says so and stops the standby now, returning it so that
// a failed deploy starts it again.
func (s *service) makeRoom(ctx context.Context, op *opRun, n int) *displaced {
	sc := s.config()
	st := s.state()
	if st.Standby == nil {
		return nil
	}
	if freePorts(sc, st) >= n {
		op.info("standby", "%s stays warm until the new version is healthy", st.Standby.Version)
		return nil
	}
	d := &displaced{release: cloneRelease(st.Standby), until: st.StandbyUntil}
	if n == 1 {
		op.warn("standby", "the standby of %s holds the only free port; it is stopped now and restarted if this deploy fails", d.release.Version)
	} else {
		op.warn("standby", "the standby of %s holds ports this deploy needs; it is stopped now and restarted if this deploy fails", d.release.Version)
	}
	s.stopStandby(ctx, op, "its port is needed by the new version")
	return d
}

// restoreStandby starts a displaced standby again after a failed deploy,
// gated on health, and makes it the standby until its window ends. A
// failure leaves the service without a standby and says how to recover.
func (s *service) restoreStandby(ctx context.Context, op *opRun, d *displaced) {
	ctx = context.WithoutCancel(ctx)
	v := d.release.Version
	if !time.Now().Before(d.until) {
		op.info("standby", "the standby window of %s ended during the deploy; it is not started again", v)
		return
	}
	op.emit(EventStep, "standby", fmt.Sprintf("starting the standby %s again", v), nil)
	insts, err := s.startGated(ctx, op, v, len(d.release.Instances), nil)
	if err != nil {
		op.warn("standby", "could not start the standby %s again: %v; `cutover rollback %s --to %s` deploys it through the health gate", v, err, s.name, v)
		return
	}
	if _, err := s.persist(ctx, func(st *store.ServiceState) {
		st.Standby = &store.Release{Version: v, Instances: insts, Since: time.Now()}
		st.StandbyUntil = d.until
		if st.Op != nil {
			for _, in := range insts {
				st.Op.Started = removeInstance(st.Op.Started, in.ID)
			}
		}
	}); err != nil {
		s.stopInstances(ctx, op, insts, "not recorded")
		op.warn("standby", "could not record the standby %s: %v", v, err)
		return
	}
	s.watchRelease(&store.Release{Instances: insts}, true)
	s.armStandby()
	op.info("standby", "%s is warm again until %s; `cutover rollback %s` switches back at once", v, d.until.Format(time.TimeOnly), s.name)
}

// prepared is a new release started and gated beside the live one, not yet
// receiving traffic.
type prepared struct {
	insts []runtime.Instance
	env   hookEnv
	// undo removes the release after a failure and returns the result to
	// report, with the failing instance's output.
	undo func(error) result
}

// prepare runs the steps the switch and canary strategies share before
// traffic moves: record the operation, make room for the new instances
// (keeping the standby warm when the port pool allows, else stopping it to
// start it again on failure), run the pre_start hook, start the instances
// of req.Version, gate them on health within the deploy deadline, run the
// post_healthy hook, and only then retire the standby the new version
// replaces. role names the
// instances in progress messages ("" or "canary"). On failure it returns
// the result with everything it started removed and traffic unchanged.
func (s *service) prepare(ctx context.Context, op *opRun, req DeployRequest, role string) (*prepared, *result) {
	sc := s.config()
	begin := time.Now()
	var moved *displaced
	restore := func() {
		if moved != nil {
			s.restoreStandby(ctx, op, moved)
			moved = nil
		}
	}
	fail := func(err error) (*prepared, *result) {
		r := failed(ctx, err)
		restore()
		return nil, &r
	}
	if err := s.recordOp(ctx, op, store.PhaseStarting); err != nil {
		return fail(err)
	}
	moved = s.makeRoom(ctx, op, replicas(sc))
	if err := s.runHook(ctx, op, "pre_start", sc.Hooks.PreStart, hookEnv{version: req.Version, previous: op.from}); err != nil {
		return fail(err)
	}
	if err := s.runMigrations(ctx, op, req); err != nil {
		return fail(err)
	}
	what := "instance(s)"
	if role != "" {
		what = role + " " + what
	}
	op.emit(EventStep, "start", fmt.Sprintf("starting %d %s of %s", replicas(sc), what, req.Version), nil)
	startAt := time.Now()
	insts, err := s.startInstances(ctx, op, req.Version, replicas(sc), req.Targets)
	op.timed("start", startAt)
	if err != nil {
		return fail(err)
	}
	p := &prepared{insts: insts, env: hookEnv{version: req.Version, previous: op.from, port: insts[0].Port}}
	p.undo = func(err error) result {
		r := s.dropPrepared(ctx, op, insts, err)
		restore()
		return r
	}
	undo := func(err error) (*prepared, *result) {
		r := p.undo(err)
		return nil, &r
	}
	s.setPhase(ctx, store.PhaseGating)
	if req.Force {
		op.warn("gate", "health gate skipped: --force")
	} else {
		op.emit(EventStep, "gate", fmt.Sprintf("waiting for %s to pass its health check (deadline %s)", req.Version, sc.DeployTimeout.D()), nil)
		if err := s.gateAll(ctx, op, insts, begin); err != nil {
			return undo(err)
		}
	}
	if err := s.runHook(ctx, op, "post_healthy", sc.Hooks.PostHealthy, p.env); err != nil {
		return undo(err)
	}
	if err := ctx.Err(); err != nil {
		return undo(err)
	}
	// The new version is healthy: it replaces the rollback target.
	if st := s.state(); st.Standby != nil {
		op.info("standby", "ending the standby of %s: %s replaces it", st.Standby.Version, req.Version)
		s.retireStandby(ctx, op, "replaced by a new deploy")
	}
	return p, nil
}

// dropPrepared removes the instances of a prepared release after err and
// returns the result to report, with the failing instance's output.
func (s *service) dropPrepared(ctx context.Context, op *opRun, insts []runtime.Instance, err error) result {
	r := failed(ctx, err)
	r.output = s.failureOutput(ctx, err, insts)
	s.setPhase(ctx, store.PhaseUndoing)
	s.stopInstances(ctx, op, insts, "deploy did not complete")
	return r
}
