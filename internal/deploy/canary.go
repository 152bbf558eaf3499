package deploy

import (
	"context"
	"fmt"
	"time"

	"github.com/cutover-dev/cutover/internal/analysis"
	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/metrics"
	"github.com/cutover-dev/cutover/internal/store"
)

// canaryTick is how often a running canary is judged.
const canaryTick = time.Second

// canaryReport is how often a canary reports its numbers as an event.
const canaryReport = 5 * time.Second

// compare judges candidate against baseline over the same window.
func (s *service) compare(sc *config.Service, baseline, candidate string, since time.Time) Comparison {
	base := s.c.opts.Metrics.SnapshotSince(s.name, baseline, since)
	can := s.c.opts.Metrics.SnapshotSince(s.name, candidate, since)
	res := analysis.Judge(analysis.ConfigFrom(sc.Canary), base, can)
	cmp := Comparison{Baseline: base, Canary: can, Verdict: res.Verdict.String(), Reason: res.Reason,
		Summary: map[string]map[string]float64{}}
	for _, st := range []struct {
		role string
		s    *metricsStats
	}{{"baseline", statsView(base)}, {"canary", statsView(can)}} {
		cmp.Summary[st.role] = map[string]float64{
			"requests":   float64(st.s.requests),
			"error_rate": st.s.errorRate * 100,
			"p50_ms":     st.s.p50,
			"p99_ms":     st.s.p99,
		}
	}
	return cmp
}

// runCanary shifts traffic to the new version in steps, judging it against
// the live version at each step, and promotes or rolls back.
func (s *service) runCanary(ctx context.Context, op *opRun, req DeployRequest) result {
	sc := s.config()
	begin := time.Now()
	if s.c.opts.Metrics == nil {
		return result{outcome: store.OutcomeFailed, reason: "canary analysis needs the proxy's metrics"}
	}
	if err := s.recordOp(ctx, op, store.PhaseStarting); err != nil {
		return failed(ctx, err)
	}
	if st := s.state(); st.Standby != nil {
		op.info("standby", "ending the standby of %s: a new deploy replaces it", st.Standby.Version)
		s.retireStandby(ctx, op, "replaced by a new deploy")
	}
	if err := s.runHook(ctx, op, "pre_start", sc.Hooks.PreStart, hookEnv{version: req.Version, previous: op.from}); err != nil {
		return failed(ctx, err)
	}
	op.emit(EventStep, "start", fmt.Sprintf("starting %d canary instance(s) of %s", replicas(sc), req.Version), nil)
	startAt := time.Now()
	insts, err := s.startInstances(ctx, op, req.Version, replicas(sc), req.Targets)
	op.timed("start", startAt)
	if err != nil {
		return failed(ctx, err)
	}
	undo := func(err error) result {
		r := failed(ctx, err)
		r.output = s.failureOutput(ctx, err, insts)
		s.setPhase(ctx, store.PhaseUndoing)
		s.stopInstances(ctx, op, insts, "canary did not start")
		return r
	}
	s.setPhase(ctx, store.PhaseGating)
	if !req.Force {
		op.emit(EventStep, "gate", fmt.Sprintf("waiting for %s to pass its health check", req.Version), nil)
		if err := s.gateAll(ctx, op, insts, begin); err != nil {
			return undo(err)
		}
	}
	env := hookEnv{version: req.Version, previous: op.from, port: insts[0].Port}
	if err := s.runHook(ctx, op, "post_healthy", sc.Hooks.PostHealthy, env); err != nil {
		return undo(err)
	}
	steps := canarySteps(sc.Canary.Steps)
	since := time.Now()
	if _, _, err := s.commitRoute(ctx, func(st *store.ServiceState) {
		st.Candidate = &store.Release{Version: req.Version, Instances: insts, Since: since}
		st.Op.Phase = store.PhaseCanary
		st.Op.Started = nil
		st.Op.Step = 0
		st.Op.Weight = steps[0]
		st.Op.StartedAt = since
	}); err != nil {
		return undo(err)
	}
	s.watchRelease(&store.Release{Instances: insts}, true)
	s.mu.Lock()
	op.acceptsCanary = true
	s.mu.Unlock()

	res := s.canarySteps(ctx, op, sc, req.Version, steps, since)
	if res.outcome == store.OutcomeDeployed {
		return s.promoteCanary(ctx, op, req, env)
	}
	s.mu.Lock()
	op.acceptsCanary = false
	s.mu.Unlock()
	if err := s.undoCanary(context.WithoutCancel(ctx), op, res.reason); err != nil {
		res.reason += "; removing the canary failed: " + err.Error()
	}
	return res
}

// canarySteps returns the configured steps, ending before 100: reaching
// the last step that passes means promotion.
func canarySteps(cfg []float64) []float64 {
	var out []float64
	for _, w := range cfg {
		if w > 0 && w < 100 {
			out = append(out, w)
		}
	}
	if len(out) == 0 {
		out = []float64{5, 25, 50}
	}
	return out
}

// canarySteps runs the steps; it returns deployed when the canary earned
// promotion, or the failure.
func (s *service) canarySteps(ctx context.Context, op *opRun, sc *config.Service, version string, steps []float64, since time.Time) result {
	minStep := sc.Canary.StepDuration.D()
	maxStep := sc.Canary.MaxStepDuration.D()
	tick := time.NewTicker(canaryTick)
	defer tick.Stop()
	paused := false
	for i := 0; i < len(steps); i++ {
		w := steps[i]
		if err := s.setCanaryWeight(ctx, i, w, paused); err != nil {
			return failed(ctx, err)
		}
		op.emit(EventStep, "canary", fmt.Sprintf("step %d/%d: %s%% of traffic to %s", i+1, len(steps), trimFloat(w), version),
			map[string]any{"step": i + 1, "weight": w})
		stepStart := time.Now()
		lastReport := time.Now()
		var pausedFor time.Duration
		var pausedAt time.Time
	step:
		for {
			select {
			case <-ctx.Done():
				return failed(ctx, ctx.Err())
			case m := <-op.ctrl:
				switch m.kind {
				case ctrlPromote:
					op.info("canary", "promoted by user at %s%%", trimFloat(w))
					return result{outcome: store.OutcomeDeployed}
				case ctrlPause:
					if !paused {
						paused, pausedAt = true, time.Now()
						_ = s.setCanaryWeight(ctx, i, w, true)
						op.info("canary", "paused at %s%%", trimFloat(w))
					}
				case ctrlResume:
					if paused {
						paused = false
						pausedFor += time.Since(pausedAt)
						_ = s.setCanaryWeight(ctx, i, w, false)
						op.info("canary", "resumed at %s%%", trimFloat(w))
					}
				case ctrlWeight:
					w = m.weight
					if !paused {
						paused, pausedAt = true, time.Now()
					}
					if err := s.setCanaryWeight(ctx, i, w, true); err != nil {
						return failed(ctx, err)
					}
					op.info("canary", "weight set to %s%% by user; steps paused (resume to continue)", trimFloat(w))
				case ctrlUnhealthy:
					return result{outcome: store.OutcomeRolledBack, reason: m.reason}
				}
			case <-tick.C:
			}
			cmp := s.compare(sc, s.activeVersion(), version, since)
			if time.Since(lastReport) >= canaryReport {
				lastReport = time.Now()
				op.emit(EventInfo, "analysis", fmt.Sprintf("%s: %s", cmp.Verdict, cmp.Reason), map[string]any{"summary": cmp.Summary})
			}
			if cmp.Verdict == "fail" {
				return result{outcome: store.OutcomeRolledBack, reason: "canary analysis failed: " + cmp.Reason}
			}
			if paused {
				continue
			}
			elapsed := time.Since(stepStart) - pausedFor
			if elapsed < minStep {
				continue
			}
			if cmp.Verdict == "pass" {
				op.info("analysis", "step %d passed: %s", i+1, cmp.Reason)
				break step
			}
			if maxStep > 0 && elapsed >= maxStep {
				if sc.Canary.OnInsufficientData == "pause" {
					paused, pausedAt = true, time.Now()
					_ = s.setCanaryWeight(ctx, i, w, true)
					op.warn("analysis", "not enough data after %s at %s%% (%s); paused: `cutover resume`, `promote` or `abort`", maxStep, trimFloat(w), cmp.Reason)
					continue
				}
				return result{outcome: store.OutcomeRolledBack, reason: fmt.Sprintf("not enough data to judge the canary after %s at %s%%: %s", maxStep, trimFloat(w), cmp.Reason)}
			}
		}
	}
	return result{outcome: store.OutcomeDeployed}
}

func (s *service) activeVersion() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.Active == nil {
		return ""
	}
	return s.st.Active.Version
}

func (s *service) setCanaryWeight(ctx context.Context, step int, w float64, paused bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.persistLocked(ctx, func(st *store.ServiceState) {
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
	s.mu.Lock()
	op.acceptsCanary = false
	s.mu.Unlock()
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
	})
	if err != nil {
		if uerr := s.undoCanary(context.WithoutCancel(ctx), op, err.Error()); uerr != nil {
			s.c.log.Error("undo canary", "service", s.name, "err", uerr)
		}
		return failed(ctx, err)
	}
	op.steps["switch"] = took
	op.emit(EventStep, "switch", fmt.Sprintf("%s promoted to all traffic in %s", req.Version, took), nil)
	return s.afterSwitch(ctx, op, req, old, env)
}

// undoCanary sends all traffic back to the active release and removes the canary.
func (s *service) undoCanary(ctx context.Context, op *opRun, why string) error {
	var cand *store.Release
	if _, _, err := s.commitRoute(ctx, func(st *store.ServiceState) {
		cand = cloneRelease(st.Candidate)
		st.Candidate = nil
		if st.Op != nil {
			st.Op.Weight = 0
			st.Op.Phase = store.PhaseUndoing
		}
	}); err != nil {
		return err
	}
	if cand == nil {
		return nil
	}
	op.emit(EventStep, "rollback", fmt.Sprintf("canary %s removed from traffic: %s", cand.Version, why), nil)
	s.drainAll(ctx, op, cand.Instances)
	s.stopInstances(ctx, op, cand.Instances, "canary rolled back")
	return nil
}

func trimFloat(f float64) string {
	return fmt.Sprintf("%g", f)
}

// metricsStats is the display view of one version's numbers.
type metricsStats struct {
	requests  int64
	errorRate float64
	p50, p99  float64
}

func statsView(st metrics.Stats) *metricsStats {
	return &metricsStats{
		requests:  st.Requests,
		errorRate: st.ErrorRate(),
		p50:       float64(st.Latency.Quantile(0.5).Microseconds()) / 1000,
		p99:       float64(st.Latency.Quantile(0.99).Microseconds()) / 1000,
	}
}
