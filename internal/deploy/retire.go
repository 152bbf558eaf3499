package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/proxy"
	"github.com/cutover-dev/cutover/internal/runtime"
	"github.com/cutover-dev/cutover/internal/store"
)

// A retirement takes instances that no longer serve out of the way in the
// background: drained (when they may have requests in flight) and stopped
// with the service's stop grace, without holding the service's operation,
// so the next deploy starts at once. The write that takes the instances
// out of their role records them in ServiceState.Retiring; they leave the
// record once stopped. Close abandons a retirement where it is (a stop
// already begun goes on while the process lives) and the next Start
// resumes it from the record.

// retirement returns a record of insts retired for why.
func retirement(version string, insts []runtime.Instance, why string, drain bool) store.Retirement {
	return store.Retirement{Version: version, Instances: slices.Clone(insts), Since: time.Now(), Reason: why, Drain: drain}
}

// startRetirement stops r's instances in the background; r is recorded in
// the state already. It does nothing once the controller is closed: the
// next Start resumes the record.
func (s *service) startRetirement(r store.Retirement) {
	s.mu.Lock()
	if s.retiringNow == nil {
		s.retiringNow = map[string]bool{}
	}
	r.Instances = slices.DeleteFunc(slices.Clone(r.Instances), func(in runtime.Instance) bool { return s.retiringNow[in.ID] })
	for _, in := range r.Instances {
		s.retiringNow[in.ID] = true
	}
	s.mu.Unlock()
	if len(r.Instances) == 0 {
		return
	}
	if !s.c.goBackground(func() { s.retire(s.c.ctx, r) }) {
		s.endRetiring(r.Instances)
	}
}

// endRetiring forgets that this process stops insts.
func (s *service) endRetiring(insts []runtime.Instance) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, in := range insts {
		delete(s.retiringNow, in.ID)
	}
}

// retire drains (when r.Drain) and stops r's instances in parallel, then
// removes the stopped ones from the record and runs the post_retire hook
// when r asks for it. When ctx ends first (Close) it leaves the record as
// it is.
func (s *service) retire(ctx context.Context, r store.Retirement) {
	defer s.endRetiring(r.Instances)
	sc := s.config()
	start := time.Now()
	s.c.log.Info("retiring instances", "service", s.name, "version", r.Version, "count", len(r.Instances), "reason", r.Reason)
	stopped := make([]bool, len(r.Instances))
	insts := s.resolveUnrecorded(ctx, r.Instances)
	var wg sync.WaitGroup
	for i, in := range insts {
		wg.Go(func() {
			if r.Drain {
				if _, err := s.c.opts.Agent.Drain(ctx, in.ID, sc.DrainTimeout.D()); err != nil && !errors.Is(err, proxy.ErrUnknownTarget) {
					s.c.log.Warn("drain before stopping", "service", s.name, "instance", in.ID, "err", err)
				}
			}
			if ctx.Err() != nil {
				return
			}
			s.c.opts.Agent.Unwatch(in.ID)
			// The stop itself is not cancelled (a runtime kills at once
			// when its context ends): Close abandons the wait, and the
			// stop goes on until the process exits.
			done := make(chan error, 1)
			go func() { done <- s.c.opts.Agent.Stop(context.WithoutCancel(ctx), in, sc.StopGrace.D()) }()
			select {
			case err := <-done:
				if err != nil {
					s.c.log.Error("stop retired instance; the next start of cutover tries again", "service", s.name, "instance", in.ID, "err", err)
					return
				}
				stopped[i] = true
			case <-ctx.Done():
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		s.c.log.Info("retirement interrupted; the next start of cutover resumes it", "service", s.name, "version", r.Version)
		return
	}
	gone := map[string]bool{}
	for i, in := range r.Instances {
		if stopped[i] {
			gone[in.ID] = true
		}
	}
	if _, err := s.persist(ctx, func(st *store.ServiceState) { st.Retiring = dropRetired(st.Retiring, gone) }); errors.Is(err, ErrSuspended) {
		s.c.log.Info("retired instances not recorded: handing over; the new process sees them gone", "service", s.name)
		return
	} else if err != nil {
		s.c.log.Error("record retired instances", "service", s.name, "err", err)
	}
	s.retireChanged()
	s.forgetMetrics(r.Version)
	s.c.log.Info("instances retired", "service", s.name, "version", r.Version, "count", len(gone), "elapsed", time.Since(start).Round(time.Millisecond))
	if r.PostRetire && len(gone) == len(r.Instances) {
		_ = s.runHook(context.WithoutCancel(ctx), opOrNop(nil, s), "post_retire", sc.Hooks.PostRetire, hookEnv{version: r.Version})
	}
}

// resolveUnrecorded returns insts with each process instance whose start
// was never recorded (planned, then cutover died before the runtime's
// answer was written: no pid) replaced by what the runtime lists under its
// id, so that it is stopped rather than missed.
func (s *service) resolveUnrecorded(ctx context.Context, insts []runtime.Instance) []runtime.Instance {
	out := slices.Clone(insts)
	missing := false
	for _, in := range out {
		if in.Runtime == config.RuntimeProcess && in.PID == 0 {
			missing = true
		}
	}
	if !missing {
		return out
	}
	found, err := s.c.opts.Agent.List(ctx)
	if err != nil {
		s.c.log.Warn("list instances to find unrecorded ones", "service", s.name, "err", err)
	}
	for i, in := range out {
		if in.Runtime != config.RuntimeProcess || in.PID != 0 {
			continue
		}
		for _, f := range found {
			if f.ID == in.ID {
				out[i] = f
				break
			}
		}
	}
	return out
}

// dropRetired removes the instances in gone from l, and the retirements
// left empty.
func dropRetired(l []store.Retirement, gone map[string]bool) []store.Retirement {
	var out []store.Retirement
	for _, r := range l {
		r.Instances = filterOut(r.Instances, gone)
		if len(r.Instances) > 0 {
			out = append(out, r)
		}
	}
	return out
}

// retireChanged wakes those waiting for a retirement to end.
func (s *service) retireChanged() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.retired != nil {
		close(s.retired)
		s.retired = nil
	}
}

// retiredSignal returns a channel closed at the next end of a retirement.
func (s *service) retiredSignal() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.retired == nil {
		s.retired = make(chan struct{})
	}
	return s.retired
}

// retiringIDs returns the instances the state records as retiring.
func retiringIDs(st store.ServiceState) map[string]bool {
	ids := map[string]bool{}
	for _, r := range st.Retiring {
		for _, in := range r.Instances {
			ids[in.ID] = true
		}
	}
	return ids
}

// awaitRetired waits until none of ids is recorded as retiring, or ctx
// ends.
func (s *service) awaitRetired(ctx context.Context, ids map[string]bool) error {
	for {
		ch := s.retiredSignal()
		left := false
		for id := range retiringIDs(s.state()) {
			if ids[id] {
				left = true
				break
			}
		}
		if !left {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// awaitRetiringPort waits for a retirement to end when the port pool is
// full only because retiring instances still hold ports, so a deploy right
// after a promote starts once the old version has stopped. It reports
// whether it waited (false: waiting would not free a port).
func (s *service) awaitRetiringPort(ctx context.Context, op *opRun) (bool, error) {
	st := s.state()
	pool := s.config().PortPool()
	held := map[int]bool{}
	for _, r := range st.Retiring {
		for _, in := range r.Instances {
			if in.Port != 0 && slices.Contains(pool, in.Port) {
				held[in.Port] = true
			}
		}
	}
	if len(held) == 0 {
		return false, nil
	}
	versions := []string{}
	for _, r := range st.Retiring {
		if !slices.Contains(versions, r.Version) {
			versions = append(versions, r.Version)
		}
	}
	op.info("start", "waiting for %v to finish stopping: retiring instances hold %d port(s) of the pool (stop grace %s)",
		versions, len(held), s.config().StopGrace.D())
	ch := s.retiredSignal()
	// The retirement may have ended between reading the state and taking
	// the signal: look again before waiting.
	if len(retiringIDs(s.state())) < len(retiringIDs(st)) {
		return true, nil
	}
	select {
	case <-ch:
		return true, nil
	case <-ctx.Done():
		return true, fmt.Errorf("waiting for retiring instances to free a port: %w", ctx.Err())
	}
}

// resumeRetirements starts the retirements the state records (after a
// restart) in the background.
func (s *service) resumeRetirements() {
	for _, r := range s.state().Retiring {
		s.startRetirement(r)
	}
}
