package deploy

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/runtime"
	"github.com/cutover-dev/cutover/internal/store"
)

// Restore loads the recorded state and serves it at once, writing
// nothing: every service's recorded routing is published with those of
// its instances that are still alive, which are marked healthy and
// re-checked in the background by the health monitor (a failing check
// takes them out, as in normal operation); standby instances are watched
// too. Restore only reads the store, so a restarted or upgraded cutover
// serves while the previous process still holds the store's lock. Start,
// which calls Restore when it has not run, then recovers. Operations are
// refused until Start has returned. Call Restore at most once, before
// Start.
func (c *Controller) Restore(ctx context.Context) error {
	states, bad, err := c.opts.Store.Load(ctx)
	if err != nil {
		return fmt.Errorf("load state: %w", err)
	}
	c.mu.Lock()
	if c.restored {
		c.mu.Unlock()
		return fmt.Errorf("%w: Restore called twice", ErrInvalid)
	}
	c.restored = true
	cfg := c.cfg
	for name, e := range bad {
		c.bad[name] = e
		c.log.Error("stored state unreadable; the service is left alone", "service", name, "err", e)
	}
	for _, name := range cfg.ServiceOrder {
		if _, isBad := bad[name]; isBad {
			continue
		}
		s := newService(c, cfg.Services[name])
		if st, ok := states[name]; ok {
			s.st = st
		} else {
			s.st = store.ServiceState{Name: name}
		}
		c.services[name] = s
	}
	svcs := c.serviceList()
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range svcs {
		wg.Go(func() { s.serveRecorded(ctx) })
	}
	wg.Wait()
	return nil
}

// Start converges to the recorded state after Restore (which it calls
// when it has not run): interrupted operations are finished (the switch
// was recorded) or undone (it was not), instances found gone leave the
// record, and what must be stopped (what an interrupted operation started,
// recorded retirements, instances no state names) is stopped in the
// background, never before the recorded routing is served. It returns once
// every service's routing is published and operations are accepted. Call
// Start once.
func (c *Controller) Start(ctx context.Context) error {
	c.mu.Lock()
	restored := c.restored
	c.mu.Unlock()
	if !restored {
		if err := c.Restore(ctx); err != nil {
			return err
		}
	}
	// The record may have changed since Restore read it (a previous
	// process that still held the store then): read it again.
	states, _, err := c.opts.Store.Load(ctx)
	if err != nil {
		return fmt.Errorf("load state: %w", err)
	}
	c.mu.Lock()
	cfg := c.cfg
	svcs := c.serviceList()
	c.mu.Unlock()
	for _, s := range svcs {
		st, ok := states[s.name]
		if !ok || st.Generation == s.state().Generation {
			continue
		}
		s.mu.Lock()
		s.st = st
		s.mu.Unlock()
		s.serveRecorded(ctx)
	}

	var wg sync.WaitGroup
	for _, s := range svcs {
		wg.Go(func() { s.recover(ctx) })
	}
	wg.Wait()
	c.mu.Lock()
	c.started = true
	c.mu.Unlock()
	for _, s := range svcs {
		if err := s.publishRoute(); err != nil {
			c.log.Error("publish routing", "service", s.name, "err", err)
		}
		s.armStandby()
	}
	for _, s := range svcs {
		s.resumeRetirements()
		s.replaceDeadActive()
		s.restoreRolling()
	}
	sweep := c.goBackground(func() {
		defer close(c.swept)
		for name, st := range states {
			if _, ok := cfg.Services[name]; ok {
				continue
			}
			c.log.Warn("stored service is not in the config; retiring its instances", "service", name)
			c.retireUnknown(c.ctx, st)
		}
		c.removeOrphans(c.ctx)
	})
	if !sweep {
		close(c.swept)
	}
	return nil
}

// serveRecorded publishes the recorded routing of s with the instances
// that are still alive and watches the health of those not watched yet:
// routed ones as healthy (they passed their gate before the restart), the
// standby's as unknown. It writes nothing.
func (s *service) serveRecorded(ctx context.Context) {
	st := s.state()
	chk, err := s.check()
	if err != nil {
		s.c.log.Error("health check config", "service", s.name, "err", err)
		return
	}
	s.mu.Lock()
	if s.watching == nil {
		s.watching = map[string]bool{}
	}
	s.mu.Unlock()
	serve := cloneState(st)
	for _, r := range []struct {
		rel     *store.Release
		routed  bool
		release **store.Release
	}{{st.Active, true, &serve.Active}, {st.Candidate, true, &serve.Candidate}, {st.Standby, false, &serve.Standby}} {
		if r.rel == nil {
			continue
		}
		live := s.liveInstances(ctx, r.rel.Instances)
		(*r.release).Instances = live
		for _, in := range live {
			s.mu.Lock()
			seen := s.watching[in.ID]
			s.watching[in.ID] = true
			s.mu.Unlock()
			if !seen {
				s.c.opts.Agent.Watch(in, chk, r.routed)
			}
		}
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.route(routeSpec(s.config(), serve)); err != nil {
		s.c.log.Error("serve recorded routing", "service", s.name, "err", err)
	}
}

// liveInstances returns the instances of insts that their runtime reports
// running, asking about all of them at once.
func (s *service) liveInstances(ctx context.Context, insts []runtime.Instance) []runtime.Instance {
	alive := make([]bool, len(insts))
	var wg sync.WaitGroup
	for i, in := range insts {
		wg.Go(func() {
			state, err := s.c.opts.Agent.Inspect(ctx, in)
			alive[i] = err == nil && state.Running
		})
	}
	wg.Wait()
	var out []runtime.Instance
	for i, in := range insts {
		if alive[i] {
			out = append(out, in)
		}
	}
	return out
}

// restoreRolling finishes undoing a rolling update a restart interrupted:
// once the instances it had started and not yet routed are stopped, warm
// old instances rejoin, missing ones are started, new ones leave.
func (s *service) restoreRolling() {
	version, wait := s.restore, s.restoreWait
	s.restore, s.restoreWait = "", nil
	if version == "" {
		return
	}
	op, ctx, err := s.begin(store.OpRollback, version)
	if err != nil {
		s.c.log.Error("restore after an interrupted rolling update", "service", s.name, "err", err)
		return
	}
	op.emit(EventStep, "accepted", fmt.Sprintf("restoring %s after a rolling update interrupted by a restart", version), nil)
	s.run(op, ctx, "rolling", func(ctx context.Context, op *opRun) result {
		if err := s.recordOp(ctx, op, store.PhaseUndoing); err != nil {
			return failed(ctx, err)
		}
		if err := s.awaitRetired(ctx, wait); err != nil {
			return failed(ctx, err)
		}
		if err := s.rollBack(ctx, op, version, nil); err != nil {
			return failed(ctx, err)
		}
		return result{outcome: store.OutcomeDeployed, reason: "restored after an interrupted rolling update"}
	})
}

// recover converges one service to its recorded state: the interrupted
// operation is settled and instances found gone leave the record. What
// must be stopped is recorded as retiring, for Start to stop in the
// background.
func (s *service) recover(ctx context.Context) {
	st := s.state()
	if st.Op != nil {
		s.recoverOp(ctx, st)
		st = s.state()
	}
	next := cloneState(st)
	next.Active = s.keepLive(ctx, st.Active, "active")
	next.Candidate = s.keepLive(ctx, st.Candidate, "candidate")
	next.Standby = s.keepLive(ctx, st.Standby, "standby")
	if (next.Active == nil || len(next.Active.Instances) == 0) && next.Standby != nil && st.Active != nil {
		s.c.log.Warn("no live instance of the active version; the warm standby takes over", "service", s.name,
			"active", st.Active.Version, "standby", next.Standby.Version)
		if chk, err := s.check(); err == nil {
			for _, in := range next.Standby.Instances {
				s.c.opts.Agent.Watch(in, chk, true)
			}
		}
		next.Active, next.Standby, next.StandbyUntil = next.Standby, nil, time.Time{}
	}
	if next.Standby == nil {
		next.StandbyUntil = time.Time{}
	}
	if _, err := s.persist(ctx, func(x *store.ServiceState) {
		x.Active, x.Candidate, x.Standby, x.StandbyUntil = next.Active, next.Candidate, next.Standby, next.StandbyUntil
	}); err != nil {
		s.c.log.Error("persist recovered state", "service", s.name, "err", err)
	}
	s.wmu.Lock()
	s.mu.Lock()
	// Keep the version of an active release whose instances all died, so
	// replaceDeadActive can start it again.
	if s.st.Active == nil && st.Active != nil {
		s.st.Active = &store.Release{Version: st.Active.Version, Since: st.Active.Since}
	}
	s.mu.Unlock()
	s.wmu.Unlock()
}

// recoverOp finishes or undoes an operation a crash interrupted, or, for a
// fleet deploy's prepared operation, takes it up again (resumeFleet). What
// it had started and what a canary routed are recorded as retiring, in the
// write that clears the operation.
func (s *service) recoverOp(ctx context.Context, st store.ServiceState) {
	op := st.Op
	if s.resumeFleet(ctx, op) {
		return
	}
	rec := store.HistoryRecord{ID: op.ID, Service: s.name, Kind: op.Kind, Version: op.Version, From: op.From,
		Start: op.StartedAt, End: time.Now()}
	var retire []store.Retirement
	dropCandidate := false
	switch op.Phase {
	case store.PhaseStandby, store.PhaseRetiring:
		rec.Outcome, rec.Reason = store.OutcomeDeployed, "completed after a restart of cutover (the switch had been recorded)"
	case store.PhaseRollingOut:
		// Instances started but not yet joined are removed; the others
		// stay as recorded (the candidate's at weight 0) and, once the
		// routing is published and those are stopped, restoreRolling
		// brings the old version back to full strength under the
		// rollout's bounds.
		if len(op.Started) > 0 {
			retire = append(retire, retirement(op.Version, op.Started, "rolling update interrupted by a restart", false))
		}
		if st.Candidate != nil || st.Standby != nil {
			s.restore = op.From
			s.restoreWait = map[string]bool{}
			for _, in := range op.Started {
				s.restoreWait[in.ID] = true
			}
		}
		rec.Outcome, rec.Reason = store.OutcomeRolledBack, "rolling update interrupted by a restart of cutover; "+op.From+" is restored"
	default:
		// Nothing was switched: remove what the operation started, and a
		// canary's instances, and keep the active release.
		if len(op.Started) > 0 {
			retire = append(retire, retirement(op.Version, op.Started, "deploy interrupted by a restart", false))
		}
		if st.Candidate != nil && len(st.Candidate.Instances) > 0 {
			retire = append(retire, retirement(st.Candidate.Version, st.Candidate.Instances, "canary interrupted by a restart", true))
		}
		dropCandidate = true
		rec.Outcome, rec.Reason = store.OutcomeFailed, fmt.Sprintf("interrupted by a restart of cutover during %s; traffic unchanged", op.Phase)
	}
	if _, err := s.persist(ctx, func(x *store.ServiceState) {
		x.Op = nil
		x.Retiring = append(x.Retiring, retire...)
		if dropCandidate {
			x.Candidate = nil
		}
	}); err != nil {
		s.c.log.Error("clear interrupted operation", "service", s.name, "err", err)
	}
	if err := s.c.opts.Store.AppendHistory(ctx, rec); err != nil {
		s.c.log.Error("append history", "service", s.name, "err", err)
	}
	s.c.log.Warn("interrupted operation recovered", "service", s.name, "op", op.ID, "phase", op.Phase, "outcome", rec.Outcome,
		"retiring", len(retire))
}

// resumeFleet takes up an operation of a fleet deploy that a restart
// interrupted after its instances passed their health gate (rec.Prepared).
// The outcome is the fleet's to decide, and this host cannot know it yet
// (the fleet agent starts after recovery), so while every one of those
// instances still runs and passes a probe the operation waits again for
// the decision, as it did before the restart: a fleet that committed while
// this host was down switches to these instances (the agent calls
// CommitFleet, or Converge once the deploy is over) instead of starting
// the version anew, and one that aborted removes them (AbortFleet). Until
// then the recorded active release serves, and the host's ready endpoint
// stays 503 while it differs from the fleet's. It reports false when the
// instances cannot be kept; recoverOp then retires them.
func (s *service) resumeFleet(ctx context.Context, rec *store.Operation) bool {
	if !rec.Prepared || len(rec.Started) == 0 {
		return false
	}
	insts := rec.Started
	if kept := s.probeAlive(ctx, insts, "prepared"); len(kept) != len(insts) {
		return false
	}
	op, octx, err := s.beginOp(rec.Kind, rec.Version, true)
	if err != nil {
		s.c.log.Error("resume a prepared fleet operation", "service", s.name, "op", rec.ID, "err", err)
		return false
	}
	op.id, op.from, op.start, op.fleet = rec.ID, rec.From, rec.StartedAt, true
	fo := s.c.fleetOps.start(op, rec.ID, s.name, rec.Version)
	strategy := config.StrategySwitch
	if rec.Canary {
		strategy = config.StrategyCanary
	}
	req := FleetRequest{ID: rec.ID, DeployRequest: DeployRequest{Service: s.name, Version: rec.Version, Strategy: strategy}, Canary: rec.Canary}
	op.emit(EventStep, "accepted", fmt.Sprintf("kept %s of %s, prepared for fleet deploy %s before a restart of cutover", rec.Version, s.name, rec.ID),
		map[string]any{"fleet": true})
	s.run(op, octx, config.StrategySwitch, func(ctx context.Context, op *opRun) result {
		p := &prepared{insts: insts, env: hookEnv{version: rec.Version, previous: rec.From, port: insts[0].Port}}
		p.undo = func(err error) result { return s.dropPrepared(ctx, op, insts, err) }
		return s.decideFleet(ctx, op, req, fo, p)
	})
	s.c.log.Warn("interrupted fleet operation kept for the fleet's decision", "service", s.name, "op", rec.ID, "version", rec.Version,
		"instances", len(insts))
	return true
}

// resumeProbeTimeout bounds probing one prepared instance kept across a restart.
const resumeProbeTimeout = 10 * time.Second

// probeAlive returns the instances of insts that run and pass one health
// probe (stopping any is left to the caller).
func (s *service) probeAlive(ctx context.Context, insts []runtime.Instance, role string) []runtime.Instance {
	chk, err := s.check()
	if err != nil {
		s.c.log.Error("health check config", "service", s.name, "err", err)
		return nil
	}
	chk.HealthyThreshold = 1
	keep := make([]bool, len(insts))
	var wg sync.WaitGroup
	for _, in := range s.liveInstances(ctx, insts) {
		wg.Go(func() {
			if _, err := s.c.opts.Agent.Gate(ctx, in, chk, resumeProbeTimeout); err != nil {
				s.c.log.Warn("restored instance failed its health check", "service", s.name, "role", role, "instance", in.ID, "err", err)
				return
			}
			for j, x := range insts {
				if x.ID == in.ID {
					keep[j] = true
				}
			}
		})
	}
	wg.Wait()
	var out []runtime.Instance
	for i, in := range insts {
		if keep[i] {
			out = append(out, in)
		}
	}
	return out
}

// keepLive returns r without the instances found gone, or nil when none
// is left.
func (s *service) keepLive(ctx context.Context, r *store.Release, role string) *store.Release {
	if r == nil {
		return nil
	}
	live := s.liveInstances(ctx, r.Instances)
	if len(live) < len(r.Instances) {
		kept := map[string]bool{}
		for _, in := range live {
			kept[in.ID] = true
		}
		for _, in := range r.Instances {
			if !kept[in.ID] {
				s.c.log.Warn("restored instance is gone", "service", s.name, "role", role, "instance", in.ID)
				s.c.opts.Agent.Unwatch(in.ID)
			}
		}
	}
	if len(live) == 0 {
		return nil
	}
	out := cloneRelease(r)
	out.Instances = live
	s.c.log.Info("instances re-adopted", "service", s.name, "role", role, "version", out.Version, "count", len(out.Instances))
	return out
}

// replaceDeadActive starts the recorded active version again when none of
// its instances survived.
func (s *service) replaceDeadActive() {
	st := s.state()
	if st.Active == nil || len(st.Active.Instances) > 0 {
		return
	}
	version := st.Active.Version
	if _, err := s.persist(context.Background(), func(x *store.ServiceState) { x.Active = nil }); err != nil {
		s.c.log.Error("clear dead release", "service", s.name, "err", err)
		return
	}
	s.c.log.Warn("no instance of the active version survived; starting it again", "service", s.name, "version", version)
	if _, err := s.startDeploy(DeployRequest{Service: s.name, Version: version, Strategy: "switch"}); err != nil {
		s.c.log.Error("restart active version", "service", s.name, "err", err)
	}
}

// retireUnknown stops the instances of a stored service that the config
// no longer has, and forgets it.
func (c *Controller) retireUnknown(ctx context.Context, st store.ServiceState) {
	var all []runtime.Instance
	for _, r := range []*store.Release{st.Active, st.Candidate, st.Standby} {
		if r != nil {
			all = append(all, r.Instances...)
		}
	}
	if st.Op != nil {
		all = append(all, st.Op.Started...)
	}
	for _, r := range st.Retiring {
		all = append(all, r.Instances...)
	}
	for _, in := range all {
		if err := c.opts.Agent.Stop(ctx, in, 10*time.Second); err != nil {
			c.log.Error("stop instance of removed service", "service", st.Name, "instance", in.ID, "err", err)
		}
	}
	if err := c.opts.Store.Delete(ctx, st.Name); err != nil {
		c.log.Error("delete state", "service", st.Name, "err", err)
	}
}

// removeOrphans stops instances carrying cutover's marks that no state names.
func (c *Controller) removeOrphans(ctx context.Context) {
	found, err := c.opts.Agent.List(ctx)
	if err != nil {
		// Some runtime could not list (Docker down): sweep what the
		// others found.
		c.log.Error("list instances", "err", err)
	}
	known := map[string]bool{}
	c.mu.Lock()
	for _, s := range c.services {
		s.mu.Lock()
		for _, r := range []*store.Release{s.st.Active, s.st.Candidate, s.st.Standby} {
			if r == nil {
				continue
			}
			for _, in := range r.Instances {
				known[in.ID] = true
			}
		}
		if s.st.Op != nil { // what an operation started, a fleet deploy's prepared instances (resumeFleet)
			for _, in := range s.st.Op.Started {
				known[in.ID] = true
			}
		}
		for id := range retiringIDs(s.st) {
			known[id] = true
		}
		s.mu.Unlock()
	}
	bad := c.bad
	c.mu.Unlock()
	for _, in := range found {
		if known[in.ID] {
			continue
		}
		if _, isBad := bad[in.Service]; isBad {
			continue // its state is unreadable: do not guess
		}
		c.log.Warn("stopping orphan instance", "service", in.Service, "instance", in.ID, "version", in.Version)
		if err := c.opts.Agent.Stop(ctx, in, 10*time.Second); err != nil {
			c.log.Error("stop orphan", "instance", in.ID, "err", err)
		}
	}
}
