package deploy

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/proxy"
	"github.com/cutover-dev/cutover/internal/runtime"
	"github.com/cutover-dev/cutover/internal/store"
)

func replicas(sc *config.Service) int {
	if sc.Replicas < 1 {
		return 1
	}
	return sc.Replicas
}

// recordOp persists the operation before anything is started.
func (s *service) recordOp(ctx context.Context, op *opRun, phase store.Phase) error {
	_, err := s.persist(ctx, func(st *store.ServiceState) {
		st.Op = &store.Operation{ID: op.id, Kind: op.kind, Version: op.version, From: op.from, Phase: phase, StartedAt: op.start}
	})
	return err
}

func (s *service) setPhase(ctx context.Context, phase store.Phase) {
	_, err := s.persist(ctx, func(st *store.ServiceState) {
		if st.Op != nil {
			st.Op.Phase = phase
		}
	})
	if err != nil {
		s.c.log.Error("persist phase", "service", s.name, "phase", phase, "err", err)
	}
}

// commitRoute is the switch primitive: it records the state mutate makes
// and only then publishes its routing (one atomic table swap), so no table
// is ever served that the store does not hold. A failed write publishes
// nothing: traffic and record are unchanged.
//
// When publishing fails after the write, the record is restored: the
// previous state is written again (as the next generation) and its routing,
// which the proxy still serves since a failed publication changes nothing,
// stays in place; the error is returned and traffic ends where it was. This
// is the safe choice because every caller answers an error by undoing what
// the operation started, which is only right while the record names the
// previous routing. If writing the restore fails too, the in-memory state
// still follows the traffic (the previous one), so the next write records
// it; a crash before that recovers from the recorded state, whose instances
// are re-gated before they are routed.
func (s *service) commitRoute(ctx context.Context, mutate func(*store.ServiceState)) (store.ServiceState, time.Duration, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	prev := s.state()
	next, err := s.persistSeq(ctx, mutate)
	if err != nil {
		return prev, 0, err
	}
	start := time.Now()
	if err := s.route(routeSpec(s.config(), next)); err != nil {
		err = fmt.Errorf("publish routing of %s: %w", s.name, err)
		restored, rerr := s.writeSeq(ctx, func(st *store.ServiceState) { *st = cloneState(prev) }, false)
		if rerr != nil {
			s.mu.Lock()
			gen := s.st.Generation
			s.st = cloneState(prev)
			s.st.Generation = gen
			cur := cloneState(s.st)
			s.mu.Unlock()
			s.c.log.Error("record restored routing", "service", s.name, "err", rerr)
			return cur, 0, fmt.Errorf("%w; recording the previous routing again failed: %v", err, rerr)
		}
		return restored, 0, err
	}
	return next, time.Since(start), nil
}

// runSwitch is the blue/green deploy: start the new version beside the old
// one, gate it, switch at once, drain the old one, keep it warm on standby.
func (s *service) runSwitch(ctx context.Context, op *opRun, req DeployRequest) result {
	p, res := s.prepare(ctx, op, req, "")
	if res != nil {
		return *res
	}
	old, err := s.switchTo(ctx, op, req.Version, p.insts)
	if err != nil {
		return p.undo(err)
	}
	return s.afterSwitch(ctx, op, req, old, p.env)
}

// switchTo makes insts the active release and the old active the standby.
func (s *service) switchTo(ctx context.Context, op *opRun, version string, insts []runtime.Instance) (*store.Release, error) {
	sc := s.config()
	now := time.Now()
	var old *store.Release
	_, took, err := s.commitRoute(ctx, func(st *store.ServiceState) {
		old = cloneRelease(st.Active)
		st.Active = &store.Release{Version: version, Instances: insts, Since: now}
		st.Standby = old
		st.StandbyUntil = time.Time{}
		if old != nil {
			st.StandbyUntil = now.Add(sc.StandbyDuration())
			st.Versions = prependVersion(st.Versions, old.Version)
		}
		if st.Op != nil {
			st.Op.Phase = store.PhaseStandby
			st.Op.Started = nil
		}
	})
	if err != nil {
		return nil, err
	}
	op.steps["switch"] = took
	s.watchRelease(&store.Release{Instances: insts}, true)
	from := "nothing"
	if old != nil {
		from = old.Version
	}
	op.emit(EventStep, "switch", fmt.Sprintf("traffic switched from %s to %s in %s", from, version, took), map[string]any{"switch_us": took.Microseconds()})
	return old, nil
}

func prependVersion(l []string, v string) []string {
	out := []string{v}
	for _, x := range l {
		if x != v && len(out) < 20 {
			out = append(out, x)
		}
	}
	return out
}

// afterSwitch drains the old release, runs the post-switch hook, watches
// the new release for req.Watch, and arms the standby window.
func (s *service) afterSwitch(ctx context.Context, op *opRun, req DeployRequest, old *store.Release, env hookEnv) result {
	sc := s.config()
	if old != nil {
		s.drainLater(op, old.Instances)
	}
	if err := s.runHook(context.WithoutCancel(ctx), op, "post_switch", sc.Hooks.PostSwitch, env); err != nil {
		op.warn("hook", "%v", err)
	}
	if old == nil {
		return result{outcome: store.OutcomeDeployed}
	}
	window := sc.StandbyDuration()
	watch := req.watch()
	if watch > window {
		watch = window
	}
	op.acceptsPromote.Store(true)
	if watch > 0 {
		op.expect("watching "+req.Version+" after the switch", time.Now().Add(watch))
		op.emit(EventStep, "watch", fmt.Sprintf("watching %s for %s; %s stays warm for an instant rollback", req.Version, watch, old.Version), nil)
		t := time.NewTimer(watch)
		defer t.Stop()
	wait:
		for {
			select {
			case <-t.C:
				break wait
			case <-ctx.Done():
				if errors.Is(context.Cause(ctx), ErrAborted) {
					if err := s.rollbackToStandby(context.WithoutCancel(ctx), op, "aborted by user"); err != nil {
						return result{outcome: store.OutcomeFailed, reason: "abort: rollback to standby failed: " + err.Error()}
					}
					return result{outcome: store.OutcomeAborted, reason: "aborted by user; back on " + old.Version}
				}
				break wait
			case m := <-op.ctrl:
				switch m.kind {
				case ctrlUnhealthy:
					op.warn("watch", "%s", m.reason)
					if err := s.rollbackToStandby(context.WithoutCancel(ctx), op, m.reason); err != nil {
						return result{outcome: store.OutcomeFailed, reason: m.reason + "; rollback to standby failed: " + err.Error()}
					}
					return result{outcome: store.OutcomeRolledBack, reason: m.reason}
				case ctrlPromote:
					op.info("watch", "promoted by user")
					s.retireStandby(ctx, op, "promoted by user")
					return result{outcome: store.OutcomeDeployed}
				}
			}
		}
	}
	if window <= 0 {
		s.retireStandby(ctx, op, "no standby window configured")
		return result{outcome: store.OutcomeDeployed}
	}
	s.armStandby()
	op.info("standby", "%s stays warm until %s; `cutover rollback %s` switches back at once", old.Version, time.Now().Add(window).Format(time.TimeOnly), s.name)
	return result{outcome: store.OutcomeDeployed}
}

// watch returns the requested watch period.
func (r DeployRequest) watch() time.Duration {
	d, err := time.ParseDuration(r.Watch)
	if err != nil || d < 0 {
		return 0
	}
	return d
}

// armStandby schedules the end of the standby window from the state.
func (s *service) armStandby() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.standbyTimer != nil {
		s.standbyTimer.Stop()
		s.standbyTimer = nil
	}
	if s.st.Standby == nil {
		return
	}
	d := time.Until(s.st.StandbyUntil)
	s.standbyTimer = time.AfterFunc(max(d, 0), func() {
		if err := s.startRetireStandby("standby window ended"); err != nil {
			if errors.Is(err, ErrBusy) {
				s.mu.Lock()
				if s.standbyTimer != nil {
					s.standbyTimer.Reset(5 * time.Second)
				}
				s.mu.Unlock()
				return
			}
			s.c.log.Warn("retire standby", "service", s.name, "err", err)
		}
	})
}

// startRetireStandby retires the standby as its own short operation.
func (s *service) startRetireStandby(why string) error {
	st := s.state()
	if st.Standby == nil {
		return nil
	}
	op, ctx, err := s.begin(store.OpRetire, st.Standby.Version)
	if err != nil {
		return err
	}
	op.emit(EventStep, "retire", fmt.Sprintf("retiring standby %s: %s", st.Standby.Version, why), nil)
	op.expect("handing the standby to its retirement", time.Now().Add(5*time.Second))
	s.run(op, ctx, "", func(ctx context.Context, op *opRun) result {
		s.retireStandby(ctx, op, why)
		return result{outcome: store.OutcomeDeployed}
	})
	return nil
}

// retireStandby ends the standby window: the standby release leaves its
// role, recorded as retiring, and is drained and stopped in the background
// (the post_retire hook runs once it is stopped), so the operation does not
// wait for its stop grace.
func (s *service) retireStandby(ctx context.Context, op *opRun, why string) {
	s.mu.Lock()
	if s.standbyTimer != nil {
		s.standbyTimer.Stop()
		s.standbyTimer = nil
	}
	s.mu.Unlock()
	var r store.Retirement
	if _, err := s.persist(ctx, func(st *store.ServiceState) {
		r = store.Retirement{}
		if st.Standby == nil {
			return
		}
		r = retirement(st.Standby.Version, st.Standby.Instances, why, true)
		r.PostRetire = true
		st.Retiring = append(st.Retiring, r)
		st.Standby = nil
		st.StandbyUntil = time.Time{}
	}); err != nil {
		s.c.log.Error("retire standby", "service", s.name, "err", err)
		return
	}
	if r.Version == "" {
		return
	}
	if op != nil {
		op.info("retire", "%s retires in the background (%s): drained, then stopped within its %s stop grace",
			r.Version, why, s.config().StopGrace.D())
	}
	s.startRetirement(r)
}

// drainLater drains insts, now off the routing table, in the background:
// the operation does not wait for their long requests.
func (s *service) drainLater(op *opRun, insts []runtime.Instance) {
	if len(insts) == 0 {
		return
	}
	timeout := s.config().DrainTimeout.D()
	op.info("drain", "draining %d instance(s) of %s in the background (drain timeout %s)", len(insts), insts[0].Version, timeout)
	s.c.goBackground(func() {
		start := time.Now()
		var wg sync.WaitGroup
		var cut atomic.Int64
		for _, in := range insts {
			wg.Go(func() {
				res, err := s.c.opts.Agent.Drain(s.c.ctx, in.ID, timeout)
				if err != nil && !errors.Is(err, proxy.ErrDrainCanceled) && !errors.Is(err, proxy.ErrUnknownTarget) && s.c.ctx.Err() == nil {
					s.c.log.Warn("drain", "service", s.name, "instance", in.ID, "err", err)
				}
				cut.Add(int64(res.Cut))
			})
		}
		wg.Wait()
		if n := cut.Load(); n > 0 {
			s.c.log.Warn("drained; requests still running at the drain timeout were ended", "service", s.name,
				"version", insts[0].Version, "cut", n, "timeout", timeout)
			return
		}
		s.c.log.Info("drained", "service", s.name, "version", insts[0].Version, "instances", len(insts),
			"elapsed", time.Since(start).Round(time.Millisecond))
	})
}

// stopStandby stops the standby release (already drained when it stopped
// receiving traffic), ends its window and forgets it.
func (s *service) stopStandby(ctx context.Context, op *opRun, why string) {
	s.mu.Lock()
	if s.standbyTimer != nil {
		s.standbyTimer.Stop()
		s.standbyTimer = nil
	}
	sb := cloneRelease(s.st.Standby)
	s.mu.Unlock()
	if sb == nil {
		return
	}
	s.stopInstances(ctx, op, sb.Instances, why)
	if _, err := s.persist(ctx, func(st *store.ServiceState) {
		st.Standby = nil
		st.StandbyUntil = time.Time{}
	}); err != nil {
		s.c.log.Error("forget standby", "service", s.name, "err", err)
	}
}

// opOrNop returns op, or a throwaway op for hooks run outside operations.
func opOrNop(op *opRun, s *service) *opRun {
	if op != nil {
		return op
	}
	return &opRun{id: newID("bg-"), kind: store.OpRetire, start: time.Now(), svc: s, steps: map[string]time.Duration{}}
}
