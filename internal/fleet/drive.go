package fleet

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/coord"
	"github.com/cutover-dev/cutover/internal/deploy"
	"github.com/cutover-dev/cutover/internal/store"
)

// drive runs a planned fleet operation to its end: wait for every host to
// prepare, commit in one guarded transaction (or abort), wait for every
// host to apply, finalize, release the lock.
func (a *Agent) drive(ctx context.Context, run *coordRun, planRev int64, lockRaw []byte) {
	p := &run.plan
	switch p.Strategy {
	case config.StrategyCanary:
		a.driveCanary(ctx, run, planRev, lockRaw)
		return
	case config.StrategyRolling:
		a.driveRolling(ctx, run, planRev, lockRaw)
		return
	}
	stateRev := planRev
	commitRev, reason, output, err := a.awaitPrepared(ctx, run, &stateRev, lockRaw)
	if err != nil {
		outcome := store.OutcomeFailed
		if errors.Is(context.Cause(ctx), errAbortedByUser) || strings.HasPrefix(reason, "aborted by user") {
			outcome = store.OutcomeAborted
		}
		a.abortFleet(run, stateRev, lockRaw, reason)
		a.done(run, outcome, reason, output, nil)
		return
	}
	a.emit(run, deploy.EventStep, "commit", fmt.Sprintf("committed %s on %d host(s) at revision %d", p.Version, len(p.Hosts), commitRev),
		map[string]any{"revision": commitRev})
	data := a.awaitSwitched(run, commitRev)
	a.finalize(run, lockRaw, data)
	if p.Watch > 0 {
		if why := a.watchCommitted(ctx, run, commitRev); why != "" {
			a.done(run, store.OutcomeRolledBack, why, "", data)
			return
		}
	}
	a.done(run, store.OutcomeDeployed, "", "", data)
}

// awaitPrepared waits until every planned host prepared and commits, or
// returns why the deploy must abort.
func (a *Agent) awaitPrepared(ctx context.Context, run *coordRun, stateRev *int64, lockRaw []byte) (int64, string, string, error) {
	p := &run.plan
	deadline := time.NewTimer(time.Until(p.PrepareDeadline))
	defer deadline.Stop()
	reported := map[string]bool{}
	for {
		snap, changed := a.view.read()
		fs := decodeState(snap)
		d := fs.deploys[p.ID]
		if d != nil && d.phase() == PhaseAborted {
			return 0, d.state.Reason, "", errors.New(d.state.Reason)
		}
		if d != nil && snap.synced {
			*stateRev = d.stateRev
			for _, h := range p.Hosts {
				if f, bad := d.failed[h]; bad {
					return 0, fmt.Sprintf("host %s could not prepare %s: %s", h, p.Version, f.Reason), f.Output, errors.New(f.Reason)
				}
			}
			var lost []string
			for _, h := range p.Hosts {
				if _, alive := fs.hosts[h]; !alive {
					lost = append(lost, h)
				}
			}
			if len(lost) > 0 {
				if err := a.dropHosts(run, lost, lockRaw, stateRev); err != nil {
					return 0, fmt.Sprintf("host(s) %s lost during prepare (lease expired)", strings.Join(lost, ", ")), "", err
				}
				continue
			}
			n := 0
			for _, h := range p.Hosts {
				if _, ok := d.prepared[h]; ok {
					n++
					if !reported[h] {
						reported[h] = true
						a.emit(run, deploy.EventInfo, "prepare", fmt.Sprintf("%s prepared on %s (%d/%d)", p.Version, h, len(reported), len(p.Hosts)),
							map[string]any{"host": h, "prepared": len(reported), "hosts": len(p.Hosts)})
					}
				}
			}
			if n == len(p.Hosts) {
				rev, why, err := a.commit(run, d, lockRaw)
				if err == nil {
					return rev, "", "", nil
				}
				if why != "" {
					return 0, why, "", err
				}
				continue // a report changed under the commit: look again
			}
		}
		select {
		case <-ctx.Done():
			cause := context.Cause(ctx)
			if errors.Is(cause, errAbortedByUser) {
				return 0, "aborted by user", "", cause
			}
			return 0, "interrupted: " + cause.Error(), "", cause
		case <-deadline.C:
			return 0, fmt.Sprintf("host(s) %s did not prepare %s within the deploy timeout", strings.Join(a.missing(p), ", "), p.Version), "", errors.New("prepare deadline")
		case <-changed:
		}
	}
}

// missing lists planned hosts that have not reported prepared.
func (a *Agent) missing(p *Plan) []string {
	snap, _ := a.view.read()
	d := decodeState(snap).deploys[p.ID]
	var out []string
	for _, h := range p.Hosts {
		if d == nil {
			out = append(out, h)
			continue
		}
		if _, ok := d.prepared[h]; !ok {
			out = append(out, h)
		}
	}
	return out
}

// dropHosts removes lost hosts from the plan within the AllowLost budget,
// or fails.
func (a *Agent) dropHosts(run *coordRun, lost []string, lockRaw []byte, stateRev *int64) error {
	p := &run.plan
	if len(lost) > p.AllowLost {
		return fmt.Errorf("lost hosts %v exceed --allow-lost %d", lost, p.AllowLost)
	}
	next := *p
	next.Hosts = slices.DeleteFunc(slices.Clone(p.Hosts), func(h string) bool { return slices.Contains(lost, h) })
	next.AllowLost -= len(lost)
	if len(next.Hosts) == 0 {
		return errors.New("no host left in the plan")
	}
	ctx, cancel := context.WithTimeout(a.ctx, 5*time.Second)
	defer cancel()
	res, err := a.opts.Store.Txn(ctx, coord.Txn{
		If:   []coord.Cmp{coord.ValueIs(a.keys.lock(p.Service), lockRaw)},
		Then: []coord.Op{coord.Put(a.keys.plan(p.ID), encode(next))},
	})
	if err != nil {
		return err
	}
	if !res.Succeeded {
		return errors.New("the service's lock was lost")
	}
	*p = next
	a.emit(run, deploy.EventWarn, "prepare", fmt.Sprintf("host(s) %s lost during prepare; dropped from the plan (--allow-lost)", strings.Join(lost, ", ")),
		map[string]any{"lost": lost})
	_ = a.view.waitRev(ctx, res.Revision)
	return nil
}

// commit is the single commit point: one transaction that switches the
// fleet if the committed version is unchanged since the plan, the plan is
// still preparing, this host still holds the lock, and every planned host
// still holds its prepared report (so its lease is alive). why is set when
// the deploy must abort; err without why means "look again".
func (a *Agent) commit(run *coordRun, d *deployKV, lockRaw []byte) (rev int64, why string, err error) {
	p := &run.plan
	cmps := []coord.Cmp{
		coord.ValueIs(a.keys.lock(p.Service), lockRaw),
		coord.ModRevisionIs(a.keys.active(p.Service), p.ActiveRev),
		coord.ModRevisionIs(a.keys.state(p.ID), d.stateRev),
	}
	ctx, cancel := context.WithTimeout(a.ctx, 10*time.Second)
	defer cancel()
	hosts := p.Hosts
	if len(hosts) > maxCompares {
		// Too many reports for one transaction: each batch is checked and
		// recorded under the deploy, and the commit compares the records.
		// A host lost between its batch and the commit is handled like a
		// host lost right after the commit.
		for i := 0; i < len(hosts); i += maxCompares {
			batch := hosts[i:min(i+maxCompares, len(hosts))]
			bc := make([]coord.Cmp, 0, len(batch))
			for _, h := range batch {
				bc = append(bc, coord.Exists(a.keys.prepared(p.ID, h)))
			}
			key := fmt.Sprintf("%schecked/%d", a.keys.deploy(p.ID), i/maxCompares)
			res, err := a.opts.Store.Txn(ctx, coord.Txn{If: bc, Then: []coord.Op{coord.Put(key, []byte("ok"))}})
			if err != nil {
				return 0, "", err
			}
			if !res.Succeeded {
				return 0, "", errors.New("a prepared report vanished")
			}
			cmps = append(cmps, coord.Exists(key))
		}
	} else {
		for _, h := range hosts {
			cmps = append(cmps, coord.Exists(a.keys.prepared(p.ID, h)))
		}
	}
	now := time.Now()
	act := Active{Version: p.Version, Deploy: p.ID, Kind: p.Kind, Previous: p.From, At: now, Reason: p.Reason}
	then := []coord.Op{
		coord.Put(a.keys.active(p.Service), encode(act)),
		coord.Put(a.keys.state(p.ID), encode(State{Phase: PhaseCommitted, At: now, By: a.opts.Name})),
	}
	want := PhaseCommitted
	if p.Strategy == config.StrategyCanary {
		// A canary starts instead: the committed version stays until the
		// promotion commits.
		want = PhaseCanary
		cs := CanaryState{Step: 1, Of: len(p.Steps) + 1, Weight: p.Steps[0], At: now}
		then = []coord.Op{
			coord.Put(a.keys.canary(p.ID), encode(cs)),
			coord.Put(a.keys.state(p.ID), encode(State{Phase: PhaseCanary, At: now, By: a.opts.Name})),
		}
	}
	res, err := a.opts.Store.Txn(ctx, coord.Txn{If: cmps, Then: then})
	if err != nil {
		// The outcome is unknown: read it back.
		kv, found, _, gerr := a.opts.Store.Get(context.WithoutCancel(ctx), a.keys.state(p.ID))
		if gerr == nil && found {
			if st, _ := decode[State](kv.Value); st.Phase == want {
				return kv.ModRevision, "", nil
			}
		}
		return 0, "the commit could not be confirmed: " + err.Error(), err
	}
	if res.Succeeded {
		_ = a.view.waitRev(ctx, res.Revision)
		return res.Revision, "", nil
	}
	// Find which condition failed.
	lkv, lfound, _, _ := a.opts.Store.Get(ctx, a.keys.lock(p.Service))
	if !lfound || string(lkv.Value) != string(lockRaw) {
		return 0, "this host lost the service's lock (its lease expired)", errors.New("lock lost")
	}
	akv, _, _, _ := a.opts.Store.Get(ctx, a.keys.active(p.Service))
	if akv.ModRevision != p.ActiveRev {
		return 0, "the committed version changed concurrently", errors.New("active changed")
	}
	skv, _, _, _ := a.opts.Store.Get(ctx, a.keys.state(p.ID))
	if st, _ := decode[State](skv.Value); st.Phase == PhaseAborted {
		return 0, st.Reason, errors.New(st.Reason)
	}
	return 0, "", errors.New("a prepared report changed")
}

// abortFleet records the abort and waits (bounded) for every live planned
// host to undo what it started, then releases the lock and removes the
// deploy's keys.
func (a *Agent) abortFleet(run *coordRun, stateRev int64, lockRaw []byte, reason string) {
	p := &run.plan
	ctx, cancel := context.WithTimeout(context.WithoutCancel(a.ctx), a.opts.CommitTimeout)
	defer cancel()
	st := State{Phase: PhaseAborted, Reason: reason, At: time.Now(), By: a.opts.Name}
	res, err := a.opts.Store.Txn(ctx, coord.Txn{
		If:   []coord.Cmp{coord.Exists(a.keys.plan(p.ID))},
		Then: []coord.Op{coord.Put(a.keys.state(p.ID), encode(st))},
	})
	if err != nil {
		a.log.Error("record abort", "deploy", p.ID, "err", err)
	} else if res.Succeeded {
		_ = a.view.waitRev(ctx, res.Revision)
	}
	a.emit(run, deploy.EventStep, "undo", "aborting on every host: "+reason, nil)
	undone := map[string]bool{}
	for ctx.Err() == nil {
		snap, changed := a.view.read()
		fs := decodeState(snap)
		d := fs.deploys[p.ID]
		waiting := 0
		for _, h := range p.Hosts {
			if _, alive := fs.hosts[h]; !alive {
				continue
			}
			if d != nil {
				if _, ok := d.undone[h]; ok {
					if !undone[h] {
						undone[h] = true
						a.emit(run, deploy.EventInfo, "undo", "undone on "+h, map[string]any{"host": h})
					}
					continue
				}
			}
			waiting++
		}
		if waiting == 0 {
			break
		}
		select {
		case <-ctx.Done():
		case <-a.ctx.Done(): // shutting down: the next coordinator or the hosts' own reconcile finish the undo
			cancel()
		case <-changed:
		}
	}
	a.release(p, lockRaw)
}

// awaitSwitched waits until every planned host applied the commit or was
// lost, and reports per-host switch times.
func (a *Agent) awaitSwitched(run *coordRun, commitRev int64) map[string]any {
	p := &run.plan
	ctx, cancel := context.WithTimeout(a.ctx, a.opts.CommitTimeout)
	defer cancel()
	committedAt := time.Now()
	seen := map[string]time.Duration{}
	var lost []string
	for {
		snap, changed := a.view.read()
		fs := decodeState(snap)
		d := fs.deploys[p.ID]
		pending := 0
		for _, h := range p.Hosts {
			if _, ok := seen[h]; ok || slices.Contains(lost, h) {
				continue
			}
			if d != nil {
				if ack, ok := d.switched[h]; ok {
					// As the host's clock tells (hosts keep NTP time).
					seen[h] = max(ack.At.Sub(committedAt), 0)
					if ack.Error != "" {
						a.emit(run, deploy.EventWarn, "switch", fmt.Sprintf("%s could not apply the commit: %s (it stays out of the load balancer until it converges)", h, ack.Error), map[string]any{"host": h})
					} else {
						a.emit(run, deploy.EventInfo, "switch", fmt.Sprintf("switched %s (%d/%d)", h, len(seen), len(p.Hosts)),
							map[string]any{"host": h, "switched": len(seen), "hosts": len(p.Hosts)})
					}
					continue
				}
			}
			if _, alive := fs.hosts[h]; !alive {
				lost = append(lost, h)
				a.emit(run, deploy.EventWarn, "switch", fmt.Sprintf("%s lost before applying the commit; it converges to %s when it returns", h, p.Version), map[string]any{"host": h})
				continue
			}
			pending++
		}
		if pending == 0 {
			break
		}
		select {
		case <-ctx.Done():
			for _, h := range p.Hosts {
				if _, ok := seen[h]; !ok && !slices.Contains(lost, h) {
					lost = append(lost, h)
					a.emit(run, deploy.EventWarn, "switch", fmt.Sprintf("%s did not acknowledge the commit within %s; it is not ready until it converges", h, a.opts.CommitTimeout), map[string]any{"host": h})
				}
			}
		case <-changed:
			continue
		}
		break
	}
	var slowest time.Duration
	for _, d := range seen {
		slowest = max(slowest, d)
	}
	a.emit(run, deploy.EventStep, "switch", fmt.Sprintf("%d/%d host(s) switched to %s, the last %s after the commit", len(seen), len(p.Hosts), p.Version, slowest.Round(time.Microsecond)),
		map[string]any{"switched": len(seen), "hosts": len(p.Hosts), "last_switch_us": slowest.Microseconds(), "lost": lost})
	slices.Sort(lost)
	return map[string]any{"switched": len(seen), "hosts": len(p.Hosts), "last_switch_us": slowest.Microseconds(), "lost": lost, "revision": commitRev}
}

// finalize records the end of a committed operation and releases the lock.
func (a *Agent) finalize(run *coordRun, lockRaw []byte, data map[string]any) {
	p := &run.plan
	lost, _ := data["lost"].([]string)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(a.ctx), 5*time.Second)
	defer cancel()
	st := State{Phase: PhaseFinalized, At: time.Now(), Lost: lost, By: a.opts.Name}
	if _, err := a.opts.Store.Txn(ctx, coord.Txn{Then: []coord.Op{coord.Put(a.keys.state(p.ID), encode(st))}}); err != nil {
		a.log.Error("record finalized", "deploy", p.ID, "err", err)
	}
	a.release(p, lockRaw)
}

// release frees the lock and removes the deploy's keys; the committed
// version stays in the service's active key.
func (a *Agent) release(p *Plan, lockRaw []byte) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(a.ctx), 5*time.Second)
	defer cancel()
	lockKey := a.keys.lock(p.Service)
	_, err := a.opts.Store.Txn(ctx, coord.Txn{
		If:   []coord.Cmp{coord.ValueIs(lockKey, lockRaw)},
		Then: []coord.Op{coord.Delete(lockKey), coord.DeletePrefix(a.keys.deploy(p.ID))},
		Else: []coord.Op{coord.DeletePrefix(a.keys.deploy(p.ID))},
	})
	if err != nil {
		a.log.Error("release the service's lock", "deploy", p.ID, "err", err)
	}
}

// watchCommitted waits up to the plan's watch period for the committed
// version to be replaced by a rollback; it returns the rollback's reason.
func (a *Agent) watchCommitted(ctx context.Context, run *coordRun, commitRev int64) string {
	p := &run.plan
	a.emit(run, deploy.EventStep, "watch", fmt.Sprintf("watching %s for %s; %s stays warm for an instant rollback", p.Version, p.Watch, p.From), nil)
	t := time.NewTimer(p.Watch)
	defer t.Stop()
	for {
		snap, changed := a.view.read()
		fs := decodeState(snap)
		if act, ok := fs.actives[p.Service]; ok && act.rev > commitRev && act.Deploy != p.ID {
			if act.Kind == KindRollback {
				why := act.Reason
				if why == "" {
					why = "rolled back to " + act.Version
				}
				a.awaitReleased(p.Service, act.Deploy)
				return why
			}
			return ""
		}
		select {
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), errAbortedByUser) {
				if _, err := a.Deploy(context.WithoutCancel(ctx), DeployRequest{Kind: KindRollback, Service: p.Service, Reason: "aborted by user", PrepareTimeout: time.Minute}); err != nil {
					a.log.Error("roll back after abort", "service", p.Service, "err", err)
				}
				return "aborted by user; rolling back to " + p.From
			}
			return ""
		case <-t.C:
			return ""
		case <-changed:
		}
	}
}

// takeOver finishes or undoes a deploy whose coordinator was lost: before
// the commit it is undone, after it finished.
func (a *Agent) takeOver(d *deployKV) {
	defer func() {
		a.mu.Lock()
		delete(a.takeovers, d.id)
		a.mu.Unlock()
	}()
	p := *d.plan
	sess := a.sess.Load()
	if sess == nil {
		return
	}
	lock := Lock{Deploy: p.ID, Kind: p.Kind, Host: a.opts.Name, Since: time.Now(), TakenOver: true}
	lockRaw := encode(lock)
	ctx, cancel := context.WithTimeout(a.ctx, 5*time.Second)
	defer cancel()
	res, err := a.opts.Store.Txn(ctx, coord.Txn{
		If:   []coord.Cmp{coord.Missing(a.keys.lock(p.Service)), coord.ModRevisionIs(a.keys.state(p.ID), d.stateRev)},
		Then: []coord.Op{coord.PutWithLease(a.keys.lock(p.Service), lockRaw, sess.Lease())},
	})
	if err != nil || !res.Succeeded {
		return // another host took it, or it moved on
	}
	_ = a.view.waitRev(ctx, res.Revision)
	run := &coordRun{plan: p, start: time.Now(), cancel: func(error) {}}
	a.mu.Lock()
	a.coords[p.ID] = run
	a.mu.Unlock()
	a.log.Warn("taking over a fleet operation whose coordinator was lost", "deploy", p.ID, "service", p.Service, "phase", d.phase(), "coordinator", p.Coordinator)
	switch d.phase() {
	case PhasePreparing:
		reason := fmt.Sprintf("coordinator %s was lost before the commit; undone by %s", p.Coordinator, a.opts.Name)
		a.abortFleet(run, d.stateRev, lockRaw, reason)
		a.done(run, store.OutcomeFailed, reason, "", nil)
	case PhaseCanary, PhaseRolling:
		reason := fmt.Sprintf("coordinator %s was lost during the %s; rolled back by %s", p.Coordinator, p.Strategy, a.opts.Name)
		a.abortFleet(run, d.stateRev, lockRaw, reason)
		a.done(run, store.OutcomeRolledBack, reason, "", nil)
	case PhaseCommitted:
		a.emit(run, deploy.EventStep, "commit", fmt.Sprintf("coordinator %s was lost after the commit; %s finishes the deploy", p.Coordinator, a.opts.Name), nil)
		data := a.awaitSwitched(run, kvRevOf(a, p))
		a.finalize(run, lockRaw, data)
		a.done(run, store.OutcomeDeployed, "", "", data)
	}
}

func kvRevOf(a *Agent, p Plan) int64 {
	snap, _ := a.view.read()
	return kvRev(snap, a.keys.active(p.Service))
}

// awaitReleased waits (bounded by the commit timeout) until the fleet
// operation id no longer holds the service's lock: every host then applied
// it and recorded it in its history.
func (a *Agent) awaitReleased(service, id string) {
	ctx, cancel := context.WithTimeout(a.ctx, a.opts.CommitTimeout)
	defer cancel()
	for {
		snap, changed := a.view.read()
		if l, held := decodeState(snap).locks[service]; !held || l.Deploy != id {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}
