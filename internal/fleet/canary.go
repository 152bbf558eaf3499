package fleet

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cutover-dev/cutover/internal/analysis"
	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/coord"
	"github.com/cutover-dev/cutover/internal/deploy"
	"github.com/cutover-dev/cutover/internal/metrics"
	"github.com/cutover-dev/cutover/internal/store"
)

// A fleet canary: every host prepares the new version beside the live one
// (as for a switch); one guarded transaction starts the canary instead of
// switching (phase canary, deploys/<id>/canary holds the step and weight);
// every host routes that weight to its canary and reports its numbers of
// both versions every second under deploys/<id>/stats/<h>, on its lease.
// The coordinator sums the reports of every host, judges the sum with the
// same analysis as a one-host canary, and moves every host through the
// steps together. Passing the last step promotes it with the same commit
// as a switch (active key and state, guarded by the active revision of the
// plan); a failure rolls every host back: the abort takes the canary out of
// traffic everywhere and removes it. Pause, resume, set-weight, promote and
// abort are written to deploys/<id>/control from any host.

const (
	// canaryTick is how often hosts report and the coordinator judges.
	canaryTick = time.Second
	// canaryReport is how often an unchanged verdict is reported as an event.
	canaryReport = 5 * time.Second
)

// canaryLocked applies a running canary to this host: the weight the
// coordinator set, and the numbers reporter.
func (a *Agent) canaryLocked(d *deployKV, lp *localPlan, inPlan bool) {
	if !inPlan {
		if lp != nil && lp.status <= planPrepared {
			a.abortLocked(lp, "the fleet started the canary without this host")
		}
		return
	}
	// A host that restarted (or never prepared) keeps serving the live
	// version; its numbers are not part of the sum.
	if lp == nil || (lp.status != planPrepared && lp.status != planCanary) || d.canary == nil {
		return
	}
	w := d.canary.Weight
	if lp.applying || (lp.status == planCanary && lp.weight == w) {
		return
	}
	lp.applying = true
	p := lp.plan
	a.wg.Go(func() {
		err := a.host.SetCanaryWeight(a.ctx, p, w)
		a.mu.Lock()
		lp.applying = false
		if err != nil {
			lp.weightErr = fmt.Sprintf("routing %g%% to the canary failed: %v", w, err)
			a.log.Error("set canary weight", "deploy", p.ID, "weight", w, "err", err)
		} else {
			lp.weight, lp.weightErr = w, ""
			if lp.status == planPrepared {
				lp.status = planCanary
				ctx, cancel := context.WithCancel(a.ctx)
				lp.stopReport = cancel
				a.wg.Go(func() { a.reportCanary(ctx, lp) })
			}
		}
		a.mu.Unlock()
		a.putStats(lp)
	})
}

// endReport stops the plan's numbers reporter, if any.
func (lp *localPlan) endReport() {
	if lp.stopReport != nil {
		lp.stopReport()
		lp.stopReport = nil
	}
}

// reportCanary writes this host's canary numbers every canaryTick until ctx ends.
func (a *Agent) reportCanary(ctx context.Context, lp *localPlan) {
	t := time.NewTicker(canaryTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.putStats(lp)
		}
	}
}

// putStats writes one report of this host's canary numbers.
func (a *Agent) putStats(lp *localPlan) {
	a.mu.Lock()
	p, w, werr, status := lp.plan, lp.weight, lp.weightErr, lp.status
	a.mu.Unlock()
	if status != planCanary && werr == "" {
		return
	}
	hs := HostStats{Weight: w, Error: werr, At: time.Now()}
	hs.Baseline, hs.Canary, hs.Unhealthy, _ = a.host.CanaryStats(p)
	if err := a.put(a.keys.stats(p.ID, a.opts.Name), hs, true); err != nil && a.ctx.Err() == nil {
		a.log.Warn("report canary numbers", "deploy", p.ID, "err", err)
	}
}

// fleetStep is the coordinator's progress through one canary step.
type fleetStep struct {
	index, of int // of counts the judged steps, below 100%
	weight    float64
	// marked is set once mark holds the hosts' summed numbers at the
	// step's first judgement, where the step's own window starts.
	marked   bool
	mark     analysis.Window
	paused   bool
	pausedAt time.Time
	// minUntil is when the step may pass at the earliest, giveUpAt when a
	// lack of data ends it; both move on by the time spent paused.
	minUntil, giveUpAt time.Time
}

// canaryEnd is how a fleet canary's steps ended.
type canaryEnd struct {
	promote bool
	outcome store.Outcome
	reason  string
}

// driveCanary runs a planned fleet canary to its end.
func (a *Agent) driveCanary(ctx context.Context, run *coordRun, planRev int64, lockRaw []byte) {
	p := &run.plan
	stateRev := planRev
	if _, reason, output, err := a.awaitPrepared(ctx, run, &stateRev, lockRaw); err != nil {
		outcome := store.OutcomeFailed
		if errors.Is(context.Cause(ctx), errAbortedByUser) {
			outcome = store.OutcomeAborted
		}
		a.abortFleet(run, stateRev, lockRaw, reason)
		a.done(run, outcome, reason, output, nil)
		return
	}
	end := a.canarySteps(ctx, run)
	if end.promote {
		rev, why := a.commitFrom(run, lockRaw, PhaseCanary)
		if why == "" {
			a.emit(run, deploy.EventStep, "commit", fmt.Sprintf("promoted %s on %d host(s) at revision %d", p.Version, len(p.Hosts), rev),
				map[string]any{"revision": rev})
			data := a.awaitSwitched(run, rev)
			a.finalize(run, lockRaw, data)
			a.done(run, store.OutcomeDeployed, "", "", data)
			return
		}
		end = canaryEnd{outcome: store.OutcomeFailed, reason: "promoting the canary failed: " + why}
	}
	a.emit(run, deploy.EventStep, "rollback", "rolling the canary back on every host: "+end.reason, nil)
	a.abortFleet(run, 0, lockRaw, end.reason)
	a.done(run, end.outcome, end.reason, "", nil)
}

// canarySteps moves every host through the canary's steps; it returns
// when the canary earned promotion or must be rolled back.
func (a *Agent) canarySteps(ctx context.Context, run *coordRun) canaryEnd {
	p := &run.plan
	cfg, err := a.host.CanaryConfig(p.Service)
	if err != nil {
		return canaryEnd{outcome: store.OutcomeFailed, reason: err.Error()}
	}
	j := &canaryJudge{a: a, run: run, cfg: cfg, acfg: analysis.ConfigFrom(cfg)}
	tick := time.NewTicker(canaryTick)
	defer tick.Stop()
	for i, w := range p.Steps {
		st := &fleetStep{index: i + 1, of: len(p.Steps), weight: w}
		if i > 0 {
			if err := a.setStep(run, st); err != nil {
				return canaryEnd{outcome: store.OutcomeFailed, reason: err.Error()}
			}
		}
		a.emit(run, deploy.EventStep, "canary", fmt.Sprintf("step %d/%d: %g%% of traffic to %s on every host", st.index, st.of+1, st.weight, p.Version),
			map[string]any{"step": st.index, "steps": st.of + 1, "weight": st.weight})
		now := time.Now()
		st.minUntil = now.Add(cfg.StepDuration.D())
		if limit := cfg.MaxStepDuration.D(); limit > 0 {
			st.giveUpAt = now.Add(limit)
		}
		if end, done := j.step(ctx, tick.C, st); done {
			return end
		}
	}
	return canaryEnd{promote: true}
}

// setStep records the step, weight and pause state every host applies.
func (a *Agent) setStep(run *coordRun, st *fleetStep) error {
	ctx, cancel := context.WithTimeout(a.ctx, 5*time.Second)
	defer cancel()
	cs := CanaryState{Step: st.index, Of: st.of + 1, Weight: st.weight, Paused: st.paused, At: time.Now()}
	lockKey := a.keys.lock(run.plan.Service)
	res, err := a.opts.Store.Txn(ctx, coord.Txn{
		If:   []coord.Cmp{coord.Exists(lockKey), coord.Exists(a.keys.plan(run.plan.ID))},
		Then: []coord.Op{coord.Put(a.keys.canary(run.plan.ID), encode(cs))},
	})
	if err != nil {
		return fmt.Errorf("record the canary's step: %w", err)
	}
	if !res.Succeeded {
		return errors.New("the canary's deploy or lock is gone")
	}
	return nil
}

// canaryJudge judges a fleet canary on the sum of every host's numbers.
type canaryJudge struct {
	a    *Agent
	run  *coordRun
	cfg  config.Canary
	acfg analysis.Config

	ctlRev      int64 // the last control handled
	lastVerdict string
	lastReport  time.Time
	lastApplied int
}

// step holds one step until the analysis passes it after the minimum time
// (done false), or the canary ends (done true).
func (j *canaryJudge) step(ctx context.Context, tick <-chan time.Time, st *fleetStep) (canaryEnd, bool) {
	a, p := j.a, &j.run.plan
	for {
		snap, changed := a.view.read()
		fs := decodeState(snap)
		d := fs.deploys[p.ID]
		if d == nil || d.phase() != PhaseCanary {
			why := "the canary's deploy was ended elsewhere"
			if d != nil && d.state != nil && d.state.Reason != "" {
				why = d.state.Reason
			}
			return canaryEnd{outcome: store.OutcomeAborted, reason: why}, true
		}
		if d.control != nil && d.ctlRev > j.ctlRev {
			j.ctlRev = d.ctlRev
			if end, done := j.control(st, *d.control); done {
				return end, true
			}
			continue
		}
		select {
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), errAbortedByUser) {
				return canaryEnd{outcome: store.OutcomeAborted, reason: "aborted by user"}, true
			}
			return canaryEnd{outcome: store.OutcomeFailed, reason: "interrupted: " + context.Cause(ctx).Error()}, true
		case <-changed:
			continue
		case <-tick:
		}
		if end, done, passed := j.judge(fs, d, st); done || passed {
			return end, done
		}
	}
}

// control applies a user's command to the step.
func (j *canaryJudge) control(st *fleetStep, c Control) (canaryEnd, bool) {
	a, p := j.a, &j.run.plan
	by := " (on host " + c.By + ")"
	switch c.Action {
	case ControlPromote:
		a.emit(j.run, deploy.EventInfo, "canary", fmt.Sprintf("promoted by user at %g%%%s", st.weight, by), nil)
		return canaryEnd{promote: true}, true
	case ControlAbort:
		return canaryEnd{outcome: store.OutcomeAborted, reason: "aborted by user" + by}, true
	case ControlPause:
		if !st.paused {
			st.paused, st.pausedAt = true, time.Now()
			j.persist(st)
			a.emit(j.run, deploy.EventInfo, "canary", fmt.Sprintf("paused at %g%% by user%s: `cutover resume`, `promote` or `abort`", st.weight, by), nil)
		}
	case ControlResume:
		if st.paused {
			j.resume(st)
			a.emit(j.run, deploy.EventInfo, "canary", fmt.Sprintf("resumed at %g%%%s", st.weight, by), nil)
		}
	case ControlWeight:
		st.weight = c.Weight
		if !st.paused {
			st.paused, st.pausedAt = true, time.Now()
		}
		j.persist(st)
		a.emit(j.run, deploy.EventInfo, "canary", fmt.Sprintf("weight set to %g%% on every host by user%s; steps paused (`cutover resume` continues)", st.weight, by),
			map[string]any{"step": st.index, "weight": st.weight})
	}
	_ = p
	return canaryEnd{}, false
}

func (j *canaryJudge) persist(st *fleetStep) {
	if err := j.a.setStep(j.run, st); err != nil {
		j.a.log.Error("record the canary's step", "deploy", j.run.plan.ID, "err", err)
	}
}

// resume continues a paused step: its clocks move on by the pause, and a
// step paused for lack of data gets another max_step_duration.
func (j *canaryJudge) resume(st *fleetStep) {
	now := time.Now()
	d := now.Sub(st.pausedAt)
	st.paused = false
	st.minUntil = st.minUntil.Add(d)
	if !st.giveUpAt.IsZero() {
		st.giveUpAt = st.giveUpAt.Add(d)
		if !st.giveUpAt.After(now) {
			st.giveUpAt = now.Add(j.cfg.MaxStepDuration.D())
		}
	}
	j.persist(st)
}

// judge compares the sum of every host's canary numbers with the sum of
// their live versions'.
func (j *canaryJudge) judge(fs *fleetState, d *deployKV, st *fleetStep) (end canaryEnd, done, passed bool) {
	a, p := j.a, &j.run.plan
	var base, can metrics.Stats
	applied := 0
	var hosts []string
	for _, h := range p.Hosts {
		hs, ok := d.stats[h]
		if !ok {
			continue
		}
		if hs.Error != "" {
			return canaryEnd{outcome: store.OutcomeRolledBack, reason: fmt.Sprintf("host %s: %s", h, hs.Error)}, true, false
		}
		if hs.Unhealthy != "" && !p.Force {
			return canaryEnd{outcome: store.OutcomeRolledBack,
				reason: fmt.Sprintf("canary instance %s on host %s turned unhealthy at %g%% of traffic", hs.Unhealthy, h, st.weight)}, true, false
		}
		if hs.Weight == st.weight {
			applied++
		}
		hosts = append(hosts, h)
		addStats(&base, hs.Baseline)
		addStats(&can, hs.Canary)
	}
	if applied != j.lastApplied {
		j.lastApplied = applied
		if applied == len(p.Hosts) {
			a.emit(j.run, deploy.EventInfo, "canary", fmt.Sprintf("%g%% routed to %s on %d/%d host(s)", st.weight, p.Version, applied, len(p.Hosts)),
				map[string]any{"applied": applied, "hosts": len(p.Hosts)})
		}
	}
	whole := analysis.Window{Baseline: base, Canary: can}
	if !st.marked {
		st.marked, st.mark = true, whole
	}
	cur := analysis.Window{Baseline: base.Sub(st.mark.Baseline), Canary: can.Sub(st.mark.Canary)}
	res := analysis.JudgeStep(j.acfg, analysis.Step{Index: st.index, Of: st.of}, whole, cur)
	verdict := res.Verdict.String()
	j.report(st, verdict, res.Reason, base, can, hosts)
	if verdict == "fail" {
		return canaryEnd{outcome: store.OutcomeRolledBack,
			reason: fmt.Sprintf("canary analysis failed at %g%% of traffic on %d host(s): %s", st.weight, len(hosts), res.Reason)}, true, false
	}
	now := time.Now()
	if st.paused || now.Before(st.minUntil) || applied < len(hostsAlive(fs, p.Hosts)) {
		return canaryEnd{}, false, false
	}
	if verdict == "pass" {
		a.emit(j.run, deploy.EventInfo, "analysis", fmt.Sprintf("step %d/%d passed on %d host(s): %s", st.index, st.of+1, len(hosts), res.Reason),
			map[string]any{"step": st.index, "verdict": verdict, "summary": summary(p.From, p.Version, base, can)})
		return canaryEnd{}, false, true
	}
	if st.giveUpAt.IsZero() || now.Before(st.giveUpAt) {
		return canaryEnd{}, false, false
	}
	limit := j.cfg.MaxStepDuration.D()
	if j.cfg.OnInsufficientData == "fail" {
		return canaryEnd{outcome: store.OutcomeRolledBack,
			reason: fmt.Sprintf("not enough data to judge the canary after %s at %g%% of traffic: %s", limit, st.weight, res.Reason)}, true, false
	}
	st.paused, st.pausedAt = true, now
	j.persist(st)
	a.emit(j.run, deploy.EventWarn, "analysis", fmt.Sprintf("not enough data after %s at %g%% of traffic (%s); paused: `cutover resume`, `promote` or `abort`",
		limit, st.weight, res.Reason), map[string]any{"step": st.index, "verdict": verdict, "paused": true})
	return canaryEnd{}, false, false
}

// report emits the analysis when its verdict changes, and every
// canaryReport otherwise.
func (j *canaryJudge) report(st *fleetStep, verdict, reason string, base, can metrics.Stats, hosts []string) {
	if verdict == j.lastVerdict && time.Since(j.lastReport) < canaryReport {
		return
	}
	j.lastVerdict, j.lastReport = verdict, time.Now()
	typ := deploy.EventInfo
	if verdict == "fail" {
		typ = deploy.EventWarn
	}
	p := &j.run.plan
	j.a.emit(j.run, typ, "analysis", fmt.Sprintf("%s: %s (sum of %d host(s))", verdict, reason, len(hosts)),
		map[string]any{"step": st.index, "weight": st.weight, "verdict": verdict, "hosts": hosts, "summary": summary(p.From, p.Version, base, can)})
}

// hostsAlive returns the hosts of names that are registered.
func hostsAlive(fs *fleetState, names []string) []string {
	return slices.DeleteFunc(slices.Clone(names), func(h string) bool { _, ok := fs.hosts[h]; return !ok })
}

// addStats adds o's counts into s.
func addStats(s *metrics.Stats, o metrics.Stats) {
	s.Requests += o.Requests
	s.Status1xx += o.Status1xx
	s.Status2xx += o.Status2xx
	s.Status3xx += o.Status3xx
	s.Status4xx += o.Status4xx
	s.Status5xx += o.Status5xx
	s.ConnErrors += o.ConnErrors
	s.InFlight += o.InFlight
	s.Latency.Merge(&o.Latency)
}

// summary is the display view of both versions' numbers, keyed by version.
func summary(baseline, canary string, base, can metrics.Stats) map[string]map[string]float64 {
	return map[string]map[string]float64{baseline: deploy.StatsSummary(base), canary: deploy.StatsSummary(can)}
}

// commitFrom records the plan's version as the fleet's committed one,
// from phase (a canary that earned its promotion, a rolling deploy whose
// batches all switched): the same guarded transaction as a switch's commit
// (lock held, active revision unchanged since the plan, state unchanged
// since read), without the prepared reports; a host lost meanwhile is
// reported lost and converges when it returns. It returns the commit's
// revision, or why it could not commit.
func (a *Agent) commitFrom(run *coordRun, lockRaw []byte, phase Phase) (int64, string) {
	p := &run.plan
	ctx, cancel := context.WithTimeout(a.ctx, 10*time.Second)
	defer cancel()
	skv, found, _, err := a.opts.Store.Get(ctx, a.keys.state(p.ID))
	if err != nil {
		return 0, err.Error()
	}
	if !found {
		return 0, "the deploy's state is gone"
	}
	if st, _ := decode[State](skv.Value); st.Phase != phase {
		return 0, fmt.Sprintf("the deploy is %s: %s", st.Phase, st.Reason)
	}
	now := time.Now()
	act := Active{Version: p.Version, Deploy: p.ID, Kind: p.Kind, Previous: p.From, At: now}
	res, err := a.opts.Store.Txn(ctx, coord.Txn{
		If: []coord.Cmp{
			coord.ValueIs(a.keys.lock(p.Service), lockRaw),
			coord.ModRevisionIs(a.keys.active(p.Service), p.ActiveRev),
			coord.ModRevisionIs(a.keys.state(p.ID), skv.ModRevision),
		},
		Then: []coord.Op{
			coord.Put(a.keys.active(p.Service), encode(act)),
			coord.Put(a.keys.state(p.ID), encode(State{Phase: PhaseCommitted, At: now, By: a.opts.Name})),
		},
	})
	if err != nil {
		return 0, err.Error()
	}
	if !res.Succeeded {
		return 0, "the committed version, the deploy or the lock changed concurrently"
	}
	_ = a.view.waitRev(ctx, res.Revision)
	return res.Revision, ""
}

// sendControl writes a user's command to the running fleet canary of
// service.
func (a *Agent) sendControl(ctx context.Context, service string, c Control) error {
	snap, _ := a.view.read()
	d := decodeState(snap).openDeploy(service)
	if d == nil || d.plan.Strategy != config.StrategyCanary {
		return fmt.Errorf("%w: service %s has no fleet canary running", deploy.ErrNoOperation, service)
	}
	if d.phase() != PhaseCanary {
		return fmt.Errorf("%w: the canary %s of %s is %s, not taking traffic; try again once it is", deploy.ErrBusy, d.id, service, d.phase())
	}
	c.At, c.By = time.Now(), a.opts.Name
	res, err := a.opts.Store.Txn(ctx, coord.Txn{
		If:   []coord.Cmp{coord.ModRevisionIs(a.keys.state(d.id), d.stateRev)},
		Then: []coord.Op{coord.Put(a.keys.control(d.id), encode(c))},
	})
	if err != nil {
		return err
	}
	if !res.Succeeded {
		return fmt.Errorf("%w: the canary %s of %s moved on; check `cutover status`", deploy.ErrBusy, d.id, service)
	}
	return nil
}

// Pause holds the fleet canary of service at its weight on every host.
func (a *Agent) Pause(ctx context.Context, service string) error {
	return a.sendControl(ctx, service, Control{Action: ControlPause})
}

// Resume continues the paused fleet canary of service.
func (a *Agent) Resume(ctx context.Context, service string) error {
	return a.sendControl(ctx, service, Control{Action: ControlResume})
}

// SetWeight sets the fleet canary's weight on every host and pauses its steps.
func (a *Agent) SetWeight(ctx context.Context, service string, percent float64) error {
	if percent < 0 || percent > 100 {
		return fmt.Errorf("%w: weight %g: give a percentage from 0 to 100", deploy.ErrInvalid, percent)
	}
	return a.sendControl(ctx, service, Control{Action: ControlWeight, Weight: percent})
}
