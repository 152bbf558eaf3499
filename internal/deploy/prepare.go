package deploy

import (
	"context"
	"fmt"
	"time"

	"github.com/cutover-dev/cutover/internal/runtime"
	"github.com/cutover-dev/cutover/internal/store"
)

// beginDeploy records the operation before anything is started, ends the
// standby window (the standby holds a port the new version needs) and runs
// the pre_start hook. On failure nothing has changed.
func (s *service) beginDeploy(ctx context.Context, op *opRun, req DeployRequest, phase store.Phase) error {
	if err := s.recordOp(ctx, op, phase); err != nil {
		return err
	}
	if st := s.state(); st.Standby != nil {
		op.info("standby", "ending the standby of %s: a new deploy replaces it", st.Standby.Version)
		s.retireStandby(ctx, op, "replaced by a new deploy")
	}
	return s.runHook(ctx, op, "pre_start", s.config().Hooks.PreStart, hookEnv{version: req.Version, previous: op.from})
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

// prepare runs the steps every strategy shares before traffic moves:
// beginDeploy, start the instances of req.Version, gate them on health
// within the deploy deadline, and run the post_healthy hook. role names the
// instances in progress messages ("" or "canary"). On failure it returns
// the result with everything it started removed and traffic unchanged.
func (s *service) prepare(ctx context.Context, op *opRun, req DeployRequest, role string) (*prepared, *result) {
	sc := s.config()
	begin := time.Now()
	fail := func(err error) (*prepared, *result) {
		r := failed(ctx, err)
		return nil, &r
	}
	if err := s.beginDeploy(ctx, op, req, store.PhaseStarting); err != nil {
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
		r := failed(ctx, err)
		r.output = s.failureOutput(ctx, err, insts)
		s.setPhase(ctx, store.PhaseUndoing)
		s.stopInstances(ctx, op, insts, "deploy did not complete")
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
	return p, nil
}
