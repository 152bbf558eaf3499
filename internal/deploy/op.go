package deploy

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/store"
)

type ctrlKind int

const (
	ctrlPromote ctrlKind = iota
	ctrlPause
	ctrlResume
	ctrlWeight
	ctrlUnhealthy
)

type ctrlMsg struct {
	kind   ctrlKind
	weight float64
	reason string
}

// opRun is an operation running in its own goroutine.
type opRun struct {
	id      string
	kind    store.OpKind
	version string
	from    string
	start   time.Time
	svc     *service
	cancel  context.CancelCauseFunc
	ctrl    chan ctrlMsg
	steps   map[string]time.Duration
	// notes go into the history record (written by the op's goroutine).
	notes []string
	// acceptsPromote and acceptsCanary tell which control messages the op
	// handles now. The op's goroutine sets them; control, promote and
	// health callbacks read them from other goroutines.
	acceptsPromote, acceptsCanary atomic.Bool
	// fleet marks an operation a fleet deploy drives: the fleet's
	// coordinator reports its end, so the op's own end is a step event.
	fleet bool
	// onEnd, when set, runs once the operation finished: recorded in the
	// history and the service free for the next one.
	onEnd func()
	// doing and until say what the op does now and when it is expected to
	// end at the latest (zero: no bound is known), for the message that
	// refuses a conflicting request. Guarded by svc.mu.
	doing string
	until time.Time
	// done is closed once the op has finished.
	done chan struct{}
}

// shortOpWait bounds how long a new operation waits for a retire (which
// only records the standby's retirement) to end before it is refused.
const shortOpWait = 5 * time.Second

// expect records what op does now and by when it should end (zero: no
// known bound).
func (o *opRun) expect(doing string, until time.Time) {
	o.svc.mu.Lock()
	o.doing, o.until = doing, until
	o.svc.mu.Unlock()
}

// busyError is the refusal of a request that conflicts with op: what
// holds the service, and for how long it is expected to. The caller holds
// svc.mu.
func (o *opRun) busyError() error {
	s := o.svc
	what := fmt.Sprintf("%s of %s (op %s) is running since %s", o.kind, o.version, o.id, o.start.Format(time.TimeOnly))
	if o.doing != "" {
		what += ": " + o.doing
	}
	switch left := time.Until(o.until); {
	case o.until.IsZero():
		what += "; it has no fixed end"
	case left > 0:
		what += fmt.Sprintf("; expected to end by %s (in %s)", o.until.Format(time.TimeOnly), left.Round(time.Second))
	default:
		what += fmt.Sprintf("; expected to have ended by %s", o.until.Format(time.TimeOnly))
	}
	return fmt.Errorf("%w: service %s: %s; queue behind it with --wait, or run `cutover abort %s`", ErrBusy, s.name, what, s.name)
}

// result is how an operation ended.
type result struct {
	outcome store.Outcome
	reason  string
	output  string
}

func (o *opRun) emit(typ EventType, step, msg string, data map[string]any) {
	o.svc.c.bus.publish(Event{
		Time: time.Now(), Service: o.svc.name, OpID: o.id, Type: typ, Step: step,
		Message: msg, Elapsed: time.Since(o.start), Data: data,
	})
	lvl := o.svc.c.log.Info
	if typ == EventWarn {
		lvl = o.svc.c.log.Warn
	}
	lvl("deploy progress", "service", o.svc.name, "op", o.id, "step", step, "msg", msg)
}

func (o *opRun) info(step, format string, args ...any) {
	o.emit(EventInfo, step, fmt.Sprintf(format, args...), nil)
}

func (o *opRun) warn(step, format string, args ...any) {
	o.emit(EventWarn, step, fmt.Sprintf(format, args...), nil)
}

// timed records the duration of a named step.
func (o *opRun) timed(step string, since time.Time) time.Duration {
	d := time.Since(since)
	o.steps[step] += d
	return d
}

// begin registers a new operation on the service, refusing when another
// runs or once the controller is closed. A registered operation counts as
// background work of the controller from here on, so Close waits for it;
// the caller must hand it to run.
func (s *service) begin(kind store.OpKind, version string) (*opRun, context.Context, error) {
	return s.beginOp(kind, version, false)
}

// beginOp is begin; resuming registers an operation that recovery takes up
// again while the controller is starting (resumeFleet).
func (s *service) beginOp(kind store.OpKind, version string, resuming bool) (*opRun, context.Context, error) {
	if !s.c.addBackground() {
		return nil, nil, fmt.Errorf("%w: service %s: controller is shutting down", ErrBusy, s.name)
	}
	s.c.opGate.RLock()
	defer s.c.opGate.RUnlock()
	s.c.mu.Lock()
	started := s.c.started
	s.c.mu.Unlock()
	switch {
	case !started && !resuming:
		s.c.wg.Done()
		return nil, nil, fmt.Errorf("%w: service %s: cutover is starting (recovering its recorded state); try again in a moment", ErrBusy, s.name)
	case s.c.suspended.Load():
		s.c.wg.Done()
		return nil, nil, fmt.Errorf("%w: service %s: cutover is handing over to a new process (an upgrade); try again in a moment", ErrBusy, s.name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur := s.op; cur != nil && cur.kind == store.OpRetire {
		// A retire only hands the standby to its retirement, which goes
		// on in the background: wait for it rather than refuse.
		s.mu.Unlock()
		t := time.NewTimer(shortOpWait)
		select {
		case <-cur.done:
		case <-t.C:
		}
		t.Stop()
		s.mu.Lock()
	}
	if s.op != nil {
		s.c.wg.Done()
		return nil, nil, s.op.busyError()
	}
	ctx, cancel := context.WithCancelCause(s.c.ctx)
	op := &opRun{
		id: newID("op-"), kind: kind, version: version, start: time.Now(), svc: s,
		cancel: cancel, ctrl: make(chan ctrlMsg, 8), steps: map[string]time.Duration{},
		done: make(chan struct{}),
	}
	if s.st.Active != nil {
		op.from = s.st.Active.Version
	}
	s.op = op
	return op, ctx, nil
}

// run executes fn as op's body in the background and finishes the op:
// history, the done event, and clearing the persisted operation.
func (s *service) run(op *opRun, ctx context.Context, strategy string, fn func(context.Context, *opRun) result) {
	go func() {
		defer s.c.wg.Done() // added by begin
		res := fn(ctx, op)
		op.cancel(nil)
		s.finish(op, strategy, res)
		if op.onEnd != nil {
			op.onEnd()
		}
	}()
}

func (s *service) finish(op *opRun, strategy string, res result) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.persist(ctx, func(st *store.ServiceState) { st.Op = nil }); err != nil {
		s.c.log.Error("clear operation", "service", s.name, "err", err)
	}
	if op.kind != store.OpRetire {
		rec := store.HistoryRecord{
			ID: op.id, Service: s.name, Kind: op.kind, Version: op.version, From: op.from, Strategy: strategy,
			Start: op.start, End: time.Now(), Outcome: res.outcome, Reason: res.reason, Steps: op.steps,
			Notes: op.notes,
		}
		if err := s.c.opts.Store.AppendHistory(ctx, rec); err != nil {
			s.c.log.Error("append history", "service", s.name, "err", err)
		}
	}
	s.mu.Lock()
	if s.op == op {
		s.op = nil
	}
	s.mu.Unlock()
	close(op.done)
	ev := Event{
		Time: time.Now(), Service: s.name, OpID: op.id, Type: EventDone, Step: "done",
		Message: doneMessage(op, res), Elapsed: time.Since(op.start), Outcome: res.outcome, Output: res.output,
	}
	if res.outcome != store.OutcomeDeployed {
		ev.Error = res.reason
	}
	if op.fleet {
		ev.Type, ev.Step = EventInfo, "host"
		ev.Message = "this host: " + ev.Message
	}
	s.c.bus.publish(ev)
	s.c.log.Info("operation finished", "service", s.name, "op", op.id, "kind", op.kind, "version", op.version,
		"outcome", res.outcome, "reason", res.reason, "elapsed", time.Since(op.start))
}

func doneMessage(op *opRun, res result) string {
	switch res.outcome {
	case store.OutcomeDeployed:
		if op.kind == store.OpRollback {
			return fmt.Sprintf("rolled back to %s", op.version)
		}
		if op.kind == store.OpRetire {
			return "retired"
		}
		return fmt.Sprintf("%s is live", op.version)
	case store.OutcomeRolledBack:
		return fmt.Sprintf("%s was rolled back: %s", op.version, res.reason)
	case store.OutcomeAborted:
		return fmt.Sprintf("%s aborted: %s", op.kind, res.reason)
	default:
		return fmt.Sprintf("%s of %s failed, traffic unchanged: %s", op.kind, op.version, res.reason)
	}
}

// failed builds a failure result from err, noting the cause when the
// operation was cancelled (abort or shutdown).
func failed(ctx context.Context, err error) result {
	if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil {
		if errors.Is(cause, ErrAborted) {
			return result{outcome: store.OutcomeAborted, reason: "aborted by user"}
		}
		return result{outcome: store.OutcomeFailed, reason: "interrupted: " + cause.Error()}
	}
	return result{outcome: store.OutcomeFailed, reason: err.Error()}
}

// startDeploy validates and launches a deploy.
func (s *service) startDeploy(req DeployRequest) (string, error) {
	sc := s.config()
	strategy := sc.Strategy
	if req.Strategy != "" {
		strategy = req.Strategy
	}
	switch strategy {
	case config.StrategySwitch, config.StrategyCanary, config.StrategyRolling:
	default:
		return "", fmt.Errorf("%w: strategy %q: use switch, canary or rolling", ErrInvalid, strategy)
	}
	if len(req.Targets) > 0 && sc.Runtime != config.RuntimeStatic {
		return "", fmt.Errorf("%w: targets are only for services with runtime static (service %s uses %s)", ErrInvalid, s.name, sc.Runtime)
	}
	if strategy == config.StrategyCanary {
		st := s.state()
		if st.Active == nil {
			return "", fmt.Errorf("%w: service %s has no live version to compare a canary with; deploy it first with --strategy switch", ErrInvalid, s.name)
		}
		if st.Active.Version == req.Version {
			return "", fmt.Errorf("%w: %s is already live; a canary needs a different version label", ErrInvalid, req.Version)
		}
	}
	op, ctx, err := s.begin(store.OpDeploy, req.Version)
	if err != nil {
		return "", err
	}
	op.emit(EventStep, "accepted", fmt.Sprintf("deploy %s of %s (%s strategy)", req.Version, s.name, strategy),
		map[string]any{"strategy": strategy, "from": op.from})
	switch strategy {
	case config.StrategySwitch:
		op.expect("starting and gating "+req.Version, op.start.Add(sc.DeployTimeout.D()+req.watch()))
	case config.StrategyRolling:
		op.expect("rolling out "+req.Version+" batch by batch", time.Time{})
	default:
		op.expect("canary of "+req.Version+": it ends when its steps pass, it is promoted or aborted", time.Time{})
	}
	var body func(context.Context, *opRun) result
	switch strategy {
	case config.StrategyCanary:
		body = func(ctx context.Context, op *opRun) result { return s.runCanary(ctx, op, req) }
	case config.StrategyRolling:
		body = func(ctx context.Context, op *opRun) result { return s.runRolling(ctx, op, req) }
	default:
		body = func(ctx context.Context, op *opRun) result { return s.runSwitch(ctx, op, req) }
	}
	s.run(op, ctx, strategy, body)
	return op.id, nil
}

// control delivers a message to a running canary.
func (s *service) control(m ctrlMsg) error {
	s.mu.Lock()
	op := s.op
	s.mu.Unlock()
	if op == nil || !op.acceptsCanary.Load() {
		return fmt.Errorf("%w: service %s has no canary running", ErrNoOperation, s.name)
	}
	select {
	case op.ctrl <- m:
		return nil
	default:
		return fmt.Errorf("%w: service %s: too many pending commands, try again", ErrBusy, s.name)
	}
}

// abort cancels the running operation.
func (s *service) abort() error {
	s.mu.Lock()
	op := s.op
	s.mu.Unlock()
	if op == nil || op.kind == store.OpRetire {
		return fmt.Errorf("%w: service %s has no deploy running", ErrNoOperation, s.name)
	}
	op.cancel(ErrAborted)
	return nil
}

// promote ends the canary or the standby window now.
func (s *service) promote() error {
	s.mu.Lock()
	op := s.op
	hasStandby := s.st.Standby != nil
	s.mu.Unlock()
	if op != nil && (op.acceptsPromote.Load() || op.acceptsCanary.Load()) {
		select {
		case op.ctrl <- ctrlMsg{kind: ctrlPromote}:
			return nil
		default:
			return fmt.Errorf("%w: service %s: too many pending commands, try again", ErrBusy, s.name)
		}
	}
	if op != nil {
		return fmt.Errorf("%w: service %s: %s of %s is running; promote applies to a canary or a standby window", ErrBusy, s.name, op.kind, op.version)
	}
	if !hasStandby {
		return fmt.Errorf("%w: service %s has no canary and no standby to promote past", ErrNoOperation, s.name)
	}
	return s.startRetireStandby("promoted by user")
}
