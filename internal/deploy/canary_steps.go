package deploy

import (
	"context"
	"fmt"
	"time"

	"github.com/cutover-dev/cutover/internal/analysis"
	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/runtime"
	"github.com/cutover-dev/cutover/internal/store"
)

// canaryTick is how often a running canary is judged. The error-rate test
// is built for repeated looks (see internal/analysis), so how often does not
// change its error rates; once a second is soon enough for a person.
const canaryTick = time.Second

// canaryReport is how often a canary whose verdict does not change reports
// its numbers as an event.
const canaryReport = 5 * time.Second

// canaryRun is the step loop of one canary. It is owned by the operation's
// goroutine.
type canaryRun struct {
	s       *service
	op      *opRun
	sc      *config.Service
	version string
	insts   []runtime.Instance
	since   time.Time
	// baseline is the version the canary is judged against; start marks
	// both versions' metrics when the canary joined.
	baseline string
	start    canaryMark
	// forced canaries skipped their health gate and are not rolled back
	// for failing health checks.
	forced bool

	lastVerdict string
	lastReport  time.Time
}

// canaryStep is the progress of one step.
type canaryStep struct {
	index, of int // index is 1-based; of counts the judged steps, below 100%
	weight    float64
	mark      canaryMark // both versions' metrics when the step began
	paused    bool
	pausedAt  time.Time
	// minUntil is when the step may pass at the earliest, giveUpAt when a
	// lack of data ends it; both move on by the time spent paused.
	minUntil, giveUpAt time.Time
}

// steps runs every step; it returns deployed when the canary earned
// promotion (or was promoted by hand), else the failure.
func (r *canaryRun) steps(ctx context.Context, steps []float64) result {
	tick := time.NewTicker(canaryTick)
	defer tick.Stop()
	defer runningCanaries.Delete(r.s)
	r.baseline = r.s.activeVersion()
	r.start = r.s.markCanary(r.baseline, r.version)
	for i, w := range steps {
		if res, done := r.step(ctx, tick.C, &canaryStep{index: i + 1, of: len(steps), weight: w}); done {
			return res
		}
	}
	r.op.emit(EventStep, "canary", fmt.Sprintf("%s: 100%% of traffic to %s, every step passed", stepLabel(len(steps)+1, len(steps)), r.version),
		map[string]any{"step": len(steps) + 1, "steps": len(steps) + 1, "weight": 100})
	return result{outcome: store.OutcomeDeployed}
}

// step holds one step until the analysis passes it after the minimum time
// (done false), or the canary ends: promoted, failed or cut short (done true).
func (r *canaryRun) step(ctx context.Context, tick <-chan time.Time, st *canaryStep) (result, bool) {
	if err := r.s.setCanaryWeight(ctx, st.index, st.weight, false); err != nil {
		return failed(ctx, err), true
	}
	st.mark = r.s.markCanary(r.baseline, r.version)
	r.op.emit(EventStep, "canary", fmt.Sprintf("%s: %s%% of traffic to %s", stepLabel(st.index, st.of), trimFloat(st.weight), r.version),
		map[string]any{"step": st.index, "steps": st.of + 1, "weight": st.weight})
	now := time.Now()
	st.minUntil = now.Add(r.sc.Canary.StepDuration.D())
	if limit := r.sc.Canary.MaxStepDuration.D(); limit > 0 {
		st.giveUpAt = now.Add(limit)
	}
	for {
		select {
		case <-ctx.Done():
			return failed(ctx, ctx.Err()), true
		case m := <-r.op.ctrl:
			if res, done := r.control(ctx, st, m); done {
				return res, true
			}
			continue
		case <-tick:
		}
		if res, done, passed := r.judge(ctx, st); done || passed {
			return res, done
		}
	}
}

// control applies a user's command (or a health report) to the step.
func (r *canaryRun) control(ctx context.Context, st *canaryStep, m ctrlMsg) (result, bool) {
	switch m.kind {
	case ctrlPromote:
		r.op.info("canary", "promoted by user at %s%%", trimFloat(st.weight))
		return result{outcome: store.OutcomeDeployed}, true
	case ctrlPause:
		if !st.paused {
			r.pause(ctx, st)
			r.op.info("canary", "paused at %s%% by user: `cutover resume`, `promote` or `abort`", trimFloat(st.weight))
		}
	case ctrlResume:
		if st.paused {
			r.resume(ctx, st)
			r.op.info("canary", "resumed at %s%%", trimFloat(st.weight))
		}
	case ctrlWeight:
		st.weight = m.weight
		if !st.paused {
			st.paused, st.pausedAt = true, time.Now()
		}
		if err := r.s.setCanaryWeight(ctx, st.index, st.weight, true); err != nil {
			return failed(ctx, err), true
		}
		r.op.emit(EventInfo, "canary", fmt.Sprintf("weight set to %s%% by user; steps paused (`cutover resume` continues)", trimFloat(st.weight)),
			map[string]any{"step": st.index, "weight": st.weight})
	case ctrlUnhealthy:
		return result{outcome: store.OutcomeRolledBack, reason: m.reason}, true
	}
	return result{}, false
}

func (r *canaryRun) pause(ctx context.Context, st *canaryStep) {
	st.paused, st.pausedAt = true, time.Now()
	if err := r.s.setCanaryWeight(ctx, st.index, st.weight, true); err != nil {
		r.s.c.log.Error("persist canary pause", "service", r.s.name, "err", err)
	}
}

// resume continues a paused step: its clocks move on by the pause, and a
// step paused for lack of data gets another max_step_duration.
func (r *canaryRun) resume(ctx context.Context, st *canaryStep) {
	now := time.Now()
	d := now.Sub(st.pausedAt)
	st.paused = false
	st.minUntil = st.minUntil.Add(d)
	if !st.giveUpAt.IsZero() {
		st.giveUpAt = st.giveUpAt.Add(d)
		if !st.giveUpAt.After(now) {
			st.giveUpAt = now.Add(r.sc.Canary.MaxStepDuration.D())
		}
	}
	if err := r.s.setCanaryWeight(ctx, st.index, st.weight, false); err != nil {
		r.s.c.log.Error("persist canary resume", "service", r.s.name, "err", err)
	}
}

// judge compares the canary with the baseline, on everything since the
// canary began and on the step's own traffic (both exact, however long the
// step or a pause lasts: see canaryMark). A failure ends the canary
// at once, paused or not; a pass ends the step once its minimum time is
// over; a wait past max_step_duration pauses the canary or fails it, as
// on_insufficient_data says.
func (r *canaryRun) judge(ctx context.Context, st *canaryStep) (res result, done, passed bool) {
	if id := r.unhealthyInstance(); id != "" && !r.forced {
		return result{outcome: store.OutcomeRolledBack,
			reason: fmt.Sprintf("canary instance %s turned unhealthy at %s%% of traffic", id, trimFloat(st.weight))}, true, false
	}
	cmp := r.s.judgeCanary(r.sc, r.baseline, r.version, analysis.Step{Index: st.index, Of: st.of}, r.start, st.mark)
	r.report(st, cmp)
	if cmp.Verdict == "fail" {
		return result{outcome: store.OutcomeRolledBack,
			reason: fmt.Sprintf("canary analysis failed at %s%% of traffic: %s", trimFloat(st.weight), cmp.Reason)}, true, false
	}
	now := time.Now()
	if st.paused || now.Before(st.minUntil) {
		return result{}, false, false
	}
	if cmp.Verdict == "pass" {
		r.op.emit(EventInfo, "analysis", fmt.Sprintf("%s passed: %s", stepLabel(st.index, st.of), cmp.Reason),
			map[string]any{"step": st.index, "verdict": cmp.Verdict, "summary": cmp.Summary})
		return result{}, false, true
	}
	if st.giveUpAt.IsZero() || now.Before(st.giveUpAt) {
		return result{}, false, false
	}
	limit := r.sc.Canary.MaxStepDuration.D()
	if r.sc.Canary.OnInsufficientData == "fail" {
		return result{outcome: store.OutcomeRolledBack,
			reason: fmt.Sprintf("not enough data to judge the canary after %s at %s%% of traffic: %s", limit, trimFloat(st.weight), cmp.Reason)}, true, false
	}
	r.pause(ctx, st)
	r.op.emit(EventWarn, "analysis", fmt.Sprintf("not enough data after %s at %s%% of traffic (%s); paused: `cutover resume`, `promote` or `abort`",
		limit, trimFloat(st.weight), cmp.Reason), map[string]any{"step": st.index, "verdict": cmp.Verdict, "paused": true})
	return result{}, false, false
}

// report emits the analysis when its verdict changes, and every
// canaryReport otherwise.
func (r *canaryRun) report(st *canaryStep, cmp Comparison) {
	if cmp.Verdict == r.lastVerdict && time.Since(r.lastReport) < canaryReport {
		return
	}
	r.lastVerdict, r.lastReport = cmp.Verdict, time.Now()
	typ := EventInfo
	if cmp.Verdict == "fail" {
		typ = EventWarn
	}
	r.op.emit(typ, "analysis", fmt.Sprintf("%s: %s", cmp.Verdict, cmp.Reason),
		map[string]any{"step": st.index, "weight": st.weight, "verdict": cmp.Verdict, "summary": cmp.Summary})
}

// unhealthyInstance returns a canary instance its continuous health check
// reports unhealthy, or "".
func (r *canaryRun) unhealthyInstance() string {
	for _, in := range r.insts {
		if !r.s.c.opts.Agent.Healthy(in.ID) {
			return in.ID
		}
	}
	return ""
}

func (s *service) activeVersion() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.Active == nil {
		return ""
	}
	return s.st.Active.Version
}

// stepLabel names step index of a plan of `of` judged steps, counting the
// promotion to 100% as the last: "step 1/3" for the 10% of [10, 50, 100].
func stepLabel(index, of int) string {
	return fmt.Sprintf("step %d/%d", index, of+1)
}
