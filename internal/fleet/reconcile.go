package fleet

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
)

// convergeRetry is the pause after a failed convergence before the next try.
const convergeRetry = 2 * time.Second

// reconcile applies the agent's rules to one snapshot of the fleet. It
// never blocks on the host: work runs in goroutines the agent owns, and
// the next snapshot sees its result.
func (a *Agent) reconcile(snap snapshot) {
	if !snap.synced {
		reason := "not in sync with the coordination store"
		if snap.err != nil {
			reason += ": " + snap.err.Error()
		}
		a.setReady(false, reason)
		return
	}
	fs := decodeState(snap)
	me := a.opts.Name
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return
	}
	// Plans that name this host.
	for id, d := range fs.deploys {
		if d.plan == nil || d.state == nil {
			continue
		}
		lp := a.plans[id]
		inPlan := d.plan.hasHost(me)
		phase := d.phase()
		switch phase {
		case PhaseCanary:
			a.canaryLocked(d, lp, inPlan)
			continue
		case PhaseRolling:
			// This host's batch: not reached yet (wait), preparing, or
			// switching.
			if phase = rollingPhase(d, me); phase == "" {
				continue
			}
		}
		switch phase {
		case PhasePreparing:
			switch {
			case !inPlan && lp != nil:
				a.abortLocked(lp, "this host was dropped from the plan")
			case !inPlan:
			case lp == nil:
				if _, failed := d.failed[me]; failed {
					continue
				}
				if l, held := fs.locks[d.plan.Service]; !held || l.Deploy != id || l.TakenOver {
					continue // its coordinator is gone: the takeover undoes it
				}
				a.prepareLocked(*d.plan)
			case lp.status == planPrepared:
				if _, ok := d.prepared[me]; !ok {
					// The report vanished with an old lease: repeat it.
					p := lp.plan
					a.wg.Go(func() { _ = a.put(a.keys.prepared(p.ID, me), Prepared{Version: p.Version, At: time.Now()}, true) })
				}
			}
		case PhaseCommitted:
			if !inPlan {
				if lp != nil && lp.status <= planPrepared {
					a.abortLocked(lp, "the fleet committed without this host")
				}
				continue
			}
			if _, acked := d.switched[me]; acked {
				continue
			}
			switch {
			case lp != nil && (lp.status == planPrepared || lp.status == planCanary):
				a.commitLocked(lp)
			case lp == nil && a.host.Applied(d.plan.Service) == d.plan.Version:
				// Applied by a process of this host that was restarted,
				// or by convergence: acknowledge.
				p := *d.plan
				a.plans[id] = &localPlan{plan: p, status: planSwitched}
				a.wg.Go(func() { _ = a.put(a.keys.switched(p.ID, me), Ack{At: time.Now()}, false) })
			}
		case PhaseAborted:
			if !inPlan {
				continue
			}
			if _, acked := d.undone[me]; acked {
				continue
			}
			switch {
			case d.plan.Strategy == config.StrategyRolling && (lp == nil && a.host.Applied(d.plan.Service) == d.plan.Version ||
				lp != nil && lp.status == planSwitched):
				// A batch that switched goes back to the version the
				// rolling deploy replaced.
				p := *d.plan
				a.plans[id] = &localPlan{plan: p, status: planUndoing}
				a.wg.Go(func() { a.revert(p, d.state.Reason) })
			case lp == nil:
				p := *d.plan
				a.plans[id] = &localPlan{plan: p, status: planUndoing}
				a.wg.Go(func() { a.undo(p, d.state.Reason, nil) })
			case lp.status <= planPrepared || lp.status == planFailed || lp.status == planCanary:
				a.abortLocked(lp, d.state.Reason)
			}
		case PhaseFinalized:
			if lp != nil && lp.status == planPrepared {
				a.endedWithoutLocked(lp, fs) // it never switched: keep or undo what it prepared
				continue
			}
			delete(a.plans, id)
		}
	}
	// Local plans whose deploy is gone from the store: the deploy ended
	// (and was cleaned up) while this host could not see it.
	for id, lp := range a.plans {
		if _, ok := fs.deploys[id]; ok {
			continue
		}
		switch lp.status {
		case planPreparing, planPrepared, planFailed, planCanary:
			a.endedWithoutLocked(lp, fs)
		case planSwitched, planUndone:
			delete(a.plans, id)
		}
	}
	// Converge every service to its committed version.
	for _, svc := range a.host.Services() {
		act, ok, wait := a.targetOf(fs, svc)
		if !ok || a.converging[svc] || a.busyLocked(svc) {
			continue
		}
		if a.host.Applied(svc) == act.Version {
			delete(a.lastErr, svc)
			continue
		}
		if l, locked := fs.locks[svc]; locked && l.Kind == KindLocal {
			continue // this host's own canary or rolling update is changing it
		}
		if wait {
			continue // converge once the deploy is decided
		}
		if time.Now().Before(a.convergeAt[svc]) {
			continue
		}
		a.convergeLocked(svc, act)
	}
	// Retire requests (promote).
	for svc, r := range fs.retires {
		if a.retired[svc] >= r.rev || !slices.Contains(a.host.Services(), svc) {
			continue
		}
		a.retired[svc] = r.rev
		a.wg.Go(func() {
			if err := a.host.RetireStandby(a.ctx, svc, r.Version, r.Reason); err != nil {
				a.log.Warn("retire standby", "service", svc, "version", r.Version, "err", err)
			}
		})
	}
	// Deploys whose coordinator is gone: take over.
	for id, d := range fs.deploys {
		if d.plan == nil || d.state == nil || d.phase().Terminal() || a.takeovers[id] || a.coords[id] != nil {
			continue
		}
		if l, held := fs.locks[d.plan.Service]; held && l.Deploy == id {
			continue
		}
		a.takeovers[id] = true
		dep := *d
		a.wg.Go(func() { a.takeOver(&dep) })
	}
	ok, reason := a.readinessLocked(fs)
	a.setReady(ok, reason)
	a.updateRecordLocked(fs, ok, reason)
}

// busyLocked reports whether a plan of this host is in progress for svc.
func (a *Agent) busyLocked(svc string) bool {
	for _, lp := range a.plans {
		if lp.plan.Service != svc {
			continue
		}
		switch lp.status {
		case planPreparing, planPrepared, planCommitting, planUndoing, planCanary:
			return true
		}
	}
	return false
}

// readinessLocked decides whether the host routes what the fleet committed.
func (a *Agent) readinessLocked(fs *fleetState) (bool, string) {
	var lag []string
	for _, svc := range a.host.Services() {
		act, ok, _ := a.targetOf(fs, svc)
		if !ok {
			continue
		}
		if got := a.host.Applied(svc); got != act.Version {
			msg := fmt.Sprintf("%s: serves %q, the fleet committed %q (revision %d)", svc, got, act.Version, act.rev)
			if act.rolling {
				msg = fmt.Sprintf("%s: serves %q, the rolling deploy %s switched this host's batch to %q", svc, got, act.Deploy, act.Version)
			}
			if e := a.lastErr[svc]; e != "" {
				msg += ": " + e
			}
			lag = append(lag, msg)
		}
	}
	if _, ok := fs.hosts[a.opts.Name]; !ok {
		return false, "this host is not registered in the fleet (lease being renewed)"
	}
	if len(lag) > 0 {
		slices.Sort(lag)
		return false, "not converged: " + strings.Join(lag, "; ")
	}
	return true, ""
}

// updateRecordLocked rewrites the host record when what it shows changed.
func (a *Agent) updateRecordLocked(fs *fleetState, ok bool, reason string) {
	svcs := map[string]Applied{}
	for _, svc := range a.host.Services() {
		v := a.host.Applied(svc)
		if v == "" {
			continue
		}
		ap := Applied{Version: v}
		if act, found := fs.actives[svc]; found && act.Version == v {
			ap.Rev = act.rev
		}
		svcs[svc] = ap
	}
	_, registered := fs.hosts[a.opts.Name]
	if registered && a.record.Ready == ok && a.record.Reason == reason && maps.Equal(a.record.Services, svcs) {
		return
	}
	a.record.Services, a.record.Ready, a.record.Reason = svcs, ok, reason
	a.wg.Go(func() {
		if err := a.register(a.ctx); err != nil && a.ctx.Err() == nil {
			a.log.Warn("update host record", "err", err)
		}
	})
}

// prepareLocked starts this host's part of a plan.
func (a *Agent) prepareLocked(p Plan) {
	ctx, cancel := context.WithCancel(a.ctx)
	lp := &localPlan{plan: p, status: planPreparing, cancel: cancel, done: make(chan struct{})}
	a.plans[p.ID] = lp
	me := a.opts.Name
	a.wg.Go(func() {
		defer close(lp.done)
		defer cancel()
		err := a.checkConfig(p)
		if err == nil {
			pctx := ctx
			if !p.PrepareDeadline.IsZero() {
				var c context.CancelFunc
				pctx, c = context.WithDeadline(ctx, p.PrepareDeadline)
				defer c()
			}
			err = a.host.Prepare(pctx, p)
		}
		a.mu.Lock()
		aborted := lp.status != planPreparing
		if !aborted {
			if err != nil {
				lp.status = planFailed
			} else {
				lp.status = planPrepared
			}
		}
		a.mu.Unlock()
		if aborted {
			return
		}
		if err != nil {
			a.log.Warn("prepare failed", "deploy", p.ID, "service", p.Service, "version", p.Version, "err", err)
			_ = a.put(a.keys.failed(p.ID, me), Failure{Reason: err.Error(), Output: outputOf(err), At: time.Now()}, false)
			return
		}
		a.log.Info("prepared", "deploy", p.ID, "service", p.Service, "version", p.Version)
		_ = a.put(a.keys.prepared(p.ID, me), Prepared{Version: p.Version, At: time.Now()}, true)
	})
}

// checkConfig refuses a plan made from a config that differs from this host's.
func (a *Agent) checkConfig(p Plan) error {
	digest, fields, err := a.host.ConfigDigest(p.Service)
	if err != nil {
		return err
	}
	if p.ConfigDigest == "" || digest == p.ConfigDigest {
		return nil
	}
	diff := differingFields(p.ConfigFields, fields)
	return fmt.Errorf("host %s: the config of service %s differs from the one on %s (fields: %s); deploy the same cutover.yaml to every host and run `cutover reload`",
		a.opts.Name, p.Service, p.Coordinator, strings.Join(diff, ", "))
}

// commitLocked applies a committed plan this host prepared.
func (a *Agent) commitLocked(lp *localPlan) {
	lp.endReport()
	lp.status = planCommitting
	p := lp.plan
	me := a.opts.Name
	a.wg.Go(func() {
		err := a.host.Commit(a.ctx, p)
		ack := Ack{At: time.Now()} // when this host switched
		if err == nil {
			if serr := a.host.Settle(a.ctx, p); serr != nil {
				a.log.Warn("settle after commit", "deploy", p.ID, "err", serr)
			}
		}
		a.mu.Lock()
		lp.status = planSwitched
		if err != nil {
			ack.Error = err.Error()
			a.lastErr[p.Service] = "applying the commit failed: " + err.Error()
		}
		a.mu.Unlock()
		if err != nil {
			a.log.Error("apply commit", "deploy", p.ID, "service", p.Service, "err", err)
		}
		_ = a.put(a.keys.switched(p.ID, me), ack, false)
	})
}

// abortLocked ends a prepare (if running) and removes what it started.
func (a *Agent) abortLocked(lp *localPlan, why string) {
	if lp.status == planUndoing || lp.status == planUndone {
		return
	}
	lp.endReport()
	lp.status = planUndoing
	if lp.cancel != nil {
		lp.cancel()
	}
	p := lp.plan
	a.wg.Go(func() { a.undo(p, why, lp.done) })
}

// undo waits for a prepare to end, removes what it started and acknowledges.
func (a *Agent) undo(p Plan, why string, prepared <-chan struct{}) {
	if prepared != nil {
		<-prepared
	}
	if err := a.host.Abort(context.WithoutCancel(a.ctx), p, why); err != nil {
		a.log.Error("undo prepared version", "deploy", p.ID, "service", p.Service, "err", err)
	}
	a.mu.Lock()
	if lp := a.plans[p.ID]; lp != nil {
		lp.status = planUndone
	}
	a.mu.Unlock()
	// Acknowledge to a deploy still in the store only: an ack written
	// after the deploy's keys were removed (it ended while this host was
	// away) would stay behind forever.
	if snap, _ := a.view.read(); a.ctx.Err() == nil {
		if _, open := snap.get(a.keys.plan(p.ID)); open {
			_ = a.put(a.keys.undone(p.ID, a.opts.Name), Ack{At: time.Now()}, false)
		}
	}
}

// convergeLocked brings a service to its committed version.
func (a *Agent) convergeLocked(svc string, act activeKV) {
	a.converging[svc] = true
	a.wg.Go(func() {
		a.log.Info("converging to the committed version", "service", svc, "version", act.Version, "rev", act.rev)
		err := a.host.Converge(a.ctx, svc, act.Active)
		a.mu.Lock()
		delete(a.converging, svc)
		if err != nil {
			a.lastErr[svc] = "converging failed: " + err.Error()
			a.convergeAt[svc] = time.Now().Add(convergeRetry)
		} else {
			delete(a.lastErr, svc)
		}
		a.mu.Unlock()
		if err != nil && a.ctx.Err() == nil {
			a.log.Error("converge", "service", svc, "version", act.Version, "err", err)
		}
	})
}

// outputer is an error carrying an instance's output tail.
type outputer interface{ Output() string }

func outputOf(err error) string {
	if o, ok := err.(outputer); ok {
		return o.Output()
	}
	return ""
}

// targetOf returns the version this host must serve for svc: the committed
// one or, once a rolling deploy switched this host's batch, the deploy's.
// wait is true while an open deploy decides it (a prepare, a canary, a
// rolling batch of this host not yet switched): the host does not
// converge meanwhile. ok is false when the fleet committed nothing.
func (a *Agent) targetOf(fs *fleetState, svc string) (act activeKV, ok, wait bool) {
	act, ok = fs.actives[svc]
	d := fs.openDeploy(svc)
	if d == nil {
		return act, ok, false
	}
	switch d.phase() {
	case PhasePreparing, PhaseCanary:
		return act, ok, true
	case PhaseRolling:
		if !d.plan.hasHost(a.opts.Name) {
			return act, ok, true
		}
		switch rollingPhase(d, a.opts.Name) {
		case PhaseCommitted:
			p := d.plan
			return activeKV{Active: Active{Version: p.Version, Deploy: p.ID, Kind: p.Kind, Previous: p.From}, rev: act.rev, rolling: true}, true, false
		default:
			return act, ok, true
		}
	}
	return act, ok, false
}

// rollingPhase says where host h is in a rolling deploy: PhasePreparing
// while its batch prepares, PhaseCommitted once its batch was switched,
// "" before its batch.
func rollingPhase(d *deployKV, h string) Phase {
	if d.batch == nil {
		return ""
	}
	i := d.plan.batchOf(h)
	switch {
	case i < 0 || i > d.batch.Index:
		return ""
	case i < d.batch.Index || d.batch.Committed:
		return PhaseCommitted
	default:
		return PhasePreparing
	}
}

// revert brings a host that switched in an aborted rolling deploy back to
// the version the deploy replaced, and acknowledges the undo.
func (a *Agent) revert(p Plan, why string) {
	if p.From != "" {
		a.log.Info("rolling deploy aborted; going back", "deploy", p.ID, "service", p.Service, "version", p.From, "why", why)
		if err := a.host.Converge(context.WithoutCancel(a.ctx), p.Service, Active{Version: p.From, Deploy: p.ID, Kind: KindRollback}); err != nil {
			a.log.Error("go back after an aborted rolling deploy", "deploy", p.ID, "service", p.Service, "err", err)
			a.mu.Lock()
			a.lastErr[p.Service] = "going back to " + p.From + " failed: " + err.Error()
			a.mu.Unlock()
		}
	}
	a.mu.Lock()
	if lp := a.plans[p.ID]; lp != nil {
		lp.status = planUndone
	}
	a.mu.Unlock()
	if a.ctx.Err() == nil {
		_ = a.put(a.keys.undone(p.ID, a.opts.Name), Ack{At: time.Now()}, false)
	}
}
