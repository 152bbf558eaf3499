package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/runtime"
	"github.com/cutover-dev/cutover/internal/store"
)

// tailLines is how many lines of an instance's output a failure shows.
const tailLines = 20

// portsInUse returns the ports held by every instance the state knows.
func portsInUse(st store.ServiceState) map[int]bool {
	used := map[int]bool{}
	for _, r := range []*store.Release{st.Active, st.Candidate, st.Standby} {
		if r == nil {
			continue
		}
		for _, in := range r.Instances {
			if in.Port != 0 {
				used[in.Port] = true
			}
		}
	}
	if st.Op != nil {
		for _, in := range st.Op.Started {
			if in.Port != 0 {
				used[in.Port] = true
			}
		}
	}
	for _, r := range st.Retiring {
		for _, in := range r.Instances {
			if in.Port != 0 {
				used[in.Port] = true
			}
		}
	}
	return used
}

// startInstances starts n instances of version, recording each one in the
// operation before and after it starts, so a crash leaves no instance that
// the state does not name. On error the instances started are stopped.
func (s *service) startInstances(ctx context.Context, op *opRun, version string, n int, targets []string) ([]runtime.Instance, error) {
	sc := s.config()
	started := make([]runtime.Instance, 0, n)
	for i := range n {
		port := 0
		if sc.Runtime != config.RuntimeStatic || (len(targets) == 0 && (sc.Static == nil || len(sc.Static.Targets[version]) == 0)) {
			p, err := s.pickPort(ctx, op)
			if err != nil {
				s.stopInstances(ctx, op, started, "start failed")
				return nil, err
			}
			port = p
		}
		id := instanceID(s.name, version)
		planned := runtime.Instance{ID: id, Service: s.name, Version: version, Runtime: sc.Runtime, Host: s.c.opts.HostName, Port: port, StartedAt: time.Now()}
		if _, err := s.persist(ctx, func(st *store.ServiceState) { st.Op.Started = append(st.Op.Started, planned) }); err != nil {
			s.stopInstances(ctx, op, started, "start failed")
			return nil, err
		}
		spec := runtime.StartSpec{Service: sc, Version: version, InstanceID: id, Port: port, Targets: targets, Index: i, LogDir: s.c.opts.LogDir}
		inst, err := s.c.opts.Agent.Start(ctx, spec)
		if err != nil {
			s.forgetStarted(ctx, id)
			s.stopInstances(ctx, op, started, "start failed")
			return nil, fmt.Errorf("start %s: %w", version, err)
		}
		inst.Host = s.c.opts.HostName
		started = append(started, inst)
		if _, err := s.persist(ctx, func(st *store.ServiceState) { replaceStarted(st.Op, inst) }); err != nil {
			s.stopInstances(ctx, op, started, "start failed")
			return nil, err
		}
		op.info("start", "started %s on %s%s", id, inst.Addr, pidNote(inst))
	}
	return started, nil
}

// pickPort picks a free port of the pool for a new instance, waiting for
// retiring instances to stop when they hold the only free ones.
func (s *service) pickPort(ctx context.Context, op *opRun) (int, error) {
	sc := s.config()
	for {
		p, err := runtime.PickPort(sc.PortPool(), portsInUse(s.state()), sc.Host)
		if !errors.Is(err, runtime.ErrNoFreePort) {
			return p, err
		}
		waited, werr := s.awaitRetiringPort(ctx, op)
		if werr != nil {
			return 0, fmt.Errorf("%w (%v)", err, werr)
		}
		if !waited {
			return 0, err
		}
	}
}

func pidNote(in runtime.Instance) string {
	switch {
	case in.PID != 0:
		return fmt.Sprintf(" (pid %d)", in.PID)
	case in.ContainerID != "":
		return fmt.Sprintf(" (container %.12s)", in.ContainerID)
	}
	return ""
}

func replaceStarted(op *store.Operation, inst runtime.Instance) {
	if op == nil {
		return
	}
	for i := range op.Started {
		if op.Started[i].ID == inst.ID {
			op.Started[i] = inst
			return
		}
	}
	op.Started = append(op.Started, inst)
}

func (s *service) forgetStarted(ctx context.Context, id string) {
	_, _ = s.persist(ctx, func(st *store.ServiceState) {
		if st.Op == nil {
			return
		}
		st.Op.Started = removeInstance(st.Op.Started, id)
	})
}

func removeInstance(l []runtime.Instance, id string) []runtime.Instance {
	out := l[:0:0]
	for _, in := range l {
		if in.ID != id {
			out = append(out, in)
		}
	}
	return out
}

func instanceID(service, version string) string {
	v := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_' {
			return r
		}
		return '-'
	}, version)
	if len(v) > 40 {
		v = v[:40]
	}
	return newID(service + "-" + v + "-")
}

// gateAll waits for every instance to pass the health gate within the
// deploy deadline that started at since. On failure the error carries the
// failing instance's reason and output tail.
func (s *service) gateAll(ctx context.Context, op *opRun, insts []runtime.Instance, since time.Time) error {
	sc := s.config()
	chk, err := s.check()
	if err != nil {
		return err
	}
	deadline := (sc.DeployTimeout.D() - time.Since(since)).Round(time.Millisecond)
	if deadline <= 0 {
		deadline = time.Second
	}
	start := time.Now()
	errs := make([]error, len(insts))
	var wg sync.WaitGroup
	for i, in := range insts {
		wg.Go(func() {
			res, err := s.c.opts.Agent.Gate(ctx, in, chk, deadline)
			if err != nil {
				errs[i] = &gateError{inst: in, err: err, reason: res.Reason()}
				return
			}
			op.info("gate", "%s healthy after %d probes in %s", in.ID, res.Attempts, time.Since(start).Round(time.Millisecond))
		})
	}
	wg.Wait()
	op.timed("gate", start)
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

type gateError struct {
	inst   runtime.Instance
	err    error
	reason string
}

func (e *gateError) Error() string {
	msg := fmt.Sprintf("%s did not become healthy: %v", e.inst.ID, e.err)
	if e.reason != "" && !strings.Contains(msg, e.reason) {
		msg += " (" + e.reason + ")"
	}
	return msg
}

func (e *gateError) Unwrap() error { return e.err }

// failureOutput returns the output tail of the instance behind err, if any.
func (s *service) failureOutput(ctx context.Context, err error, insts []runtime.Instance) string {
	var ge *gateError
	if errors.As(err, &ge) {
		return s.c.opts.Agent.LogTail(context.WithoutCancel(ctx), ge.inst, tailLines)
	}
	if len(insts) > 0 {
		return s.c.opts.Agent.LogTail(context.WithoutCancel(ctx), insts[0], tailLines)
	}
	return ""
}

// stopInstances stops instances that never received traffic (or were
// drained already) and removes them from the operation's record.
func (s *service) stopInstances(ctx context.Context, op *opRun, insts []runtime.Instance, why string) {
	if len(insts) == 0 {
		return
	}
	sc := s.config()
	ctx = context.WithoutCancel(ctx)
	var wg sync.WaitGroup
	for _, in := range insts {
		wg.Go(func() {
			s.c.opts.Agent.Unwatch(in.ID)
			if err := s.c.opts.Agent.Stop(ctx, in, sc.StopGrace.D()); err != nil {
				s.c.log.Error("stop instance", "service", s.name, "instance", in.ID, "err", err)
				if op != nil {
					op.warn("stop", "could not stop %s: %v", in.ID, err)
				}
				return
			}
			if op != nil {
				op.info("stop", "stopped %s (%s)", in.ID, why)
			}
		})
	}
	wg.Wait()
	_, _ = s.persist(ctx, func(st *store.ServiceState) {
		if st.Op == nil {
			return
		}
		for _, in := range insts {
			st.Op.Started = removeInstance(st.Op.Started, in.ID)
		}
	})
	s.forgetMetrics(insts[0].Version)
}

// forgetMetrics drops the metrics of a version no release holds any more,
// so a long-running cutover does not keep every version it ever served.
func (s *service) forgetMetrics(version string) {
	if s.c.opts.Metrics == nil {
		return
	}
	s.mu.Lock()
	for _, r := range []*store.Release{s.st.Active, s.st.Candidate, s.st.Standby} {
		if r != nil && r.Version == version {
			s.mu.Unlock()
			return
		}
	}
	s.mu.Unlock()
	s.c.opts.Metrics.Remove(s.name, version)
}

// drainAll drains the targets of insts in parallel and reports the requests cut.
func (s *service) drainAll(ctx context.Context, op *opRun, insts []runtime.Instance) int {
	sc := s.config()
	start := time.Now()
	var mu sync.Mutex
	cut := 0
	var wg sync.WaitGroup
	for _, in := range insts {
		wg.Go(func() {
			res, err := s.c.opts.Agent.Drain(context.WithoutCancel(ctx), in.ID, sc.DrainTimeout.D())
			if err != nil {
				s.c.log.Warn("drain", "service", s.name, "instance", in.ID, "err", err)
				return
			}
			mu.Lock()
			cut += res.Cut
			mu.Unlock()
		})
	}
	wg.Wait()
	if op != nil {
		op.timed("drain", start)
		if cut > 0 {
			op.warn("drain", "drained %d instance(s) in %s; %d request(s) still running at the %s drain timeout were ended", len(insts), time.Since(start).Round(time.Millisecond), cut, sc.DrainTimeout.D())
		} else {
			op.info("drain", "drained %d instance(s) in %s", len(insts), time.Since(start).Round(time.Millisecond))
		}
	}
	return cut
}
