package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/runtime"
	"github.com/cutover-dev/cutover/internal/store"
)

// A fleet operation drives this controller in three calls: PrepareFleet
// starts the new version beside the live one and gates it (or finds it
// warm on standby), then waits; CommitFleet switches to it once the fleet
// committed; AbortFleet removes it when the fleet aborted. The operation
// is an ordinary recorded operation of the service, identified by the
// fleet deploy's id, so a restart recovers it like any other: undone
// before the switch, completed after it. Its events go to the same stream
// as the fleet's; its end is reported as a step, the fleet's coordinator
// reports the deploy's end.

// fleetOp is the rendezvous between a fleet-driven operation and the agent.
type fleetOp struct {
	service, version string
	prepared         chan error    // the prepare result, once
	ctl              chan fleetMsg // the fleet's decisions, in order
	switched         chan error    // the switch result after a commit, once
	ended            chan struct{} // closed once the operation finished

	// A canary's state, for its numbers (set once it takes traffic).
	mu    sync.Mutex
	since time.Time
	insts []runtime.Instance
}

// fleetMsgKind is what the fleet decided for a prepared version.
type fleetMsgKind int

const (
	// fleetCommit switches to the prepared version (a canary: promotes it).
	fleetCommit fleetMsgKind = iota
	// fleetAbort removes the prepared version (a canary: from traffic first).
	fleetAbort
	// fleetWeight routes a share of traffic to the prepared version (a canary).
	fleetWeight
)

// fleetMsg is one decision; reply, if set, receives its result.
type fleetMsg struct {
	kind   fleetMsgKind
	weight float64
	reply  chan error
}

// send hands m to the operation; false when it ended first.
func (fo *fleetOp) send(ctx context.Context, m fleetMsg) (bool, error) {
	select {
	case fo.ctl <- m:
		return true, nil
	case <-fo.ended:
		return false, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// fleetOps maps fleet deploy ids to their local operation.
type fleetOps struct {
	mu  sync.Mutex
	ops map[string]*fleetOp
}

func (f *fleetOps) get(id string) *fleetOp {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ops[id]
}

// start registers op as the operation of fleet deploy id. It is
// unregistered, and ended closed, once op finished (the service is then
// free for the next operation).
func (f *fleetOps) start(op *opRun, id, service, version string) *fleetOp {
	fo := &fleetOp{service: service, version: version,
		prepared: make(chan error, 1), ctl: make(chan fleetMsg), switched: make(chan error, 1), ended: make(chan struct{})}
	f.mu.Lock()
	if f.ops == nil {
		f.ops = map[string]*fleetOp{}
	}
	f.ops[id] = fo
	f.mu.Unlock()
	op.onEnd = func() {
		f.mu.Lock()
		delete(f.ops, id)
		f.mu.Unlock()
		close(fo.ended)
	}
	return fo
}

// ofService returns the fleet deploy with an operation on service, if any
// (a service runs one operation at a time).
func (f *fleetOps) ofService(service string) (string, *fleetOp) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, fo := range f.ops {
		if fo.service == service {
			return id, fo
		}
	}
	return "", nil
}

// list returns the fleet deploys with an operation, sorted by id.
func (f *fleetOps) list() []FleetRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]FleetRequest, 0, len(f.ops))
	for id, fo := range f.ops {
		out = append(out, FleetRequest{ID: id, DeployRequest: DeployRequest{Service: fo.service, Version: fo.version}})
	}
	slices.SortFunc(out, func(a, b FleetRequest) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// FleetRequest is this host's part of a fleet deploy.
type FleetRequest struct {
	// ID is the fleet deploy's id; the local operation takes it.
	ID string
	DeployRequest
	// Rollback marks a fleet rollback: a warm standby of the version is
	// switched back to at once.
	Rollback bool
	// Automatic marks a rollback cutover started itself; its history
	// record says rolled_back, with Reason.
	Automatic bool
	Reason    string
	// Canary runs the prepared version as a canary: the fleet sets its
	// weight (SetFleetCanaryWeight), then promotes it (CommitFleet) or
	// removes it (AbortFleet).
	Canary bool
}

// PrepareFleet starts req.Version of req.Service beside the live version
// and gates it on health, or, when the warm standby runs req.Version,
// checks the standby. It returns once the version is ready to take
// traffic, or with the reason it is not (the operation then has removed
// what it started). ctx ending abandons the prepare and undoes it.
func (c *Controller) PrepareFleet(ctx context.Context, req FleetRequest) error {
	if err := validVersion(req.Version); err != nil {
		return err
	}
	s, err := c.service(req.Service)
	if err != nil {
		return err
	}
	if err := CheckFiles(s.config(), req.Version); err != nil {
		return err
	}
	kind := store.OpDeploy
	if req.Rollback {
		kind = store.OpRollback
	}
	op, octx, err := s.begin(kind, req.Version)
	if err != nil {
		return err
	}
	op.id = req.ID
	op.fleet = true
	fo := c.fleetOps.start(op, req.ID, s.name, req.Version)
	op.emit(EventStep, "accepted", fmt.Sprintf("preparing %s of %s for fleet deploy %s", req.Version, s.name, req.ID), map[string]any{"fleet": true})
	s.run(op, octx, config.StrategySwitch, func(ctx context.Context, op *opRun) result {
		return s.runFleet(ctx, op, req, fo)
	})
	select {
	case err := <-fo.prepared:
		return err
	case <-fo.ended:
		return fmt.Errorf("prepare of %s ended", req.Version)
	case <-ctx.Done():
		op.cancel(ErrAborted)
		<-fo.ended
		return ctx.Err()
	}
}

// CommitFleet switches the service to what PrepareFleet prepared for the
// fleet deploy id and returns once the new routing is recorded and
// published; draining the old version and the standby window follow in the
// background.
func (c *Controller) CommitFleet(ctx context.Context, id string) error {
	fo := c.fleetOps.get(id)
	if fo == nil {
		return fmt.Errorf("%w: fleet deploy %s has nothing prepared on this host", ErrNoOperation, id)
	}
	if ok, err := fo.send(ctx, fleetMsg{kind: fleetCommit}); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("fleet deploy %s ended before it switched", id)
	}
	select {
	case err := <-fo.switched:
		return err
	case <-fo.ended:
		return fmt.Errorf("fleet deploy %s ended before it switched", id)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SettleFleet waits until the operation of the fleet deploy id has ended
// on this host (after CommitFleet: the old version drained, the standby
// window armed), so the next operation on the service finds it free.
func (c *Controller) SettleFleet(ctx context.Context, id string) error {
	fo := c.fleetOps.get(id)
	if fo == nil {
		return nil
	}
	select {
	case <-fo.ended:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// AbortFleet removes what PrepareFleet started for the fleet deploy id
// (a warm standby it found stays). It returns once that is done; an id
// with nothing prepared is not an error.
func (c *Controller) AbortFleet(ctx context.Context, id string) error {
	fo := c.fleetOps.get(id)
	if fo == nil {
		return nil
	}
	if _, err := fo.send(ctx, fleetMsg{kind: fleetAbort}); err != nil {
		return err
	}
	select {
	case <-fo.ended:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fleetError is a prepare failure with the failing instance's output.
type fleetError struct {
	reason, output string
}

func (e *fleetError) Error() string  { return e.reason }
func (e *fleetError) Output() string { return e.output }

// runFleet is the body of a fleet-driven operation.
func (s *service) runFleet(ctx context.Context, op *opRun, req FleetRequest, fo *fleetOp) result {
	st := s.state()
	fromStandby := st.Standby != nil && st.Standby.Version == req.Version && s.standbyUsable(ctx) == nil
	var p *prepared
	if fromStandby {
		if err := s.recordOp(ctx, op, store.PhaseSwitching); err != nil {
			fo.prepared <- err
			return failed(ctx, err)
		}
		op.info("prepare", "%s is warm on standby", req.Version)
	} else {
		dr := req.DeployRequest
		dr.Watch = ""
		var res *result
		if p, res = s.prepare(ctx, op, dr, ""); res != nil {
			fo.prepared <- &fleetError{reason: res.reason, output: res.output}
			return *res
		}
		// Recorded before the fleet hears of it: a restart from here on
		// keeps the instances for the fleet's decision (resumeFleet).
		if _, err := s.persist(ctx, func(x *store.ServiceState) {
			if x.Op != nil {
				x.Op.Prepared, x.Op.Canary = true, req.Canary
			}
		}); err != nil {
			r := p.undo(err)
			fo.prepared <- &fleetError{reason: r.reason, output: r.output}
			return r
		}
	}
	fo.prepared <- nil
	return s.decideFleet(ctx, op, req, fo, p)
}

// decideFleet waits for the fleet's decision on what runFleet prepared (or
// resumeFleet kept across a restart) and carries it out. p is the prepared
// release; nil means the warm standby runs req.Version.
func (s *service) decideFleet(ctx context.Context, op *opRun, req FleetRequest, fo *fleetOp, p *prepared) result {
	if req.Canary && p != nil {
		return s.fleetCanary(ctx, op, req, fo, p)
	}
	fromStandby := p == nil
	op.info("prepare", "%s prepared; waiting for the fleet to commit", req.Version)
	commit := false
	for done := false; !done; {
		select {
		case m := <-fo.ctl:
			switch m.kind {
			case fleetCommit:
				commit, done = true, true
			case fleetAbort:
				done = true
			default:
				m.answer(fmt.Errorf("%w: fleet deploy %s is not a canary", ErrInvalid, req.ID))
			}
		case <-ctx.Done():
			done = true
		}
	}
	if !commit {
		why := errors.New("the fleet aborted the deploy")
		if ctx.Err() != nil {
			why = context.Cause(ctx)
		}
		if p != nil {
			r := p.undo(why)
			r.outcome, r.reason = store.OutcomeAborted, why.Error()
			return r
		}
		return result{outcome: store.OutcomeAborted, reason: why.Error()}
	}
	if fromStandby {
		err := s.rollbackToStandby(context.WithoutCancel(ctx), op, "fleet rollback "+req.ID)
		fo.switched <- err
		if err != nil {
			return failed(ctx, err)
		}
		if req.Automatic {
			return result{outcome: store.OutcomeRolledBack, reason: req.Reason}
		}
		return result{outcome: store.OutcomeDeployed}
	}
	old, err := s.switchTo(context.WithoutCancel(ctx), op, req.Version, p.insts)
	fo.switched <- err
	if err != nil {
		return p.undo(err)
	}
	dr := req.DeployRequest
	dr.Watch = ""
	return s.afterSwitch(context.WithoutCancel(ctx), op, dr, old, p.env)
}

// standbyUsable checks that every standby instance runs and is healthy.
func (s *service) standbyUsable(ctx context.Context) error {
	st := s.state()
	if st.Standby == nil {
		return ErrNothingToRollBack
	}
	chk, err := s.check()
	if err != nil {
		return err
	}
	for _, in := range st.Standby.Instances {
		state, err := s.c.opts.Agent.Inspect(ctx, in)
		if err != nil || !state.Running {
			return fmt.Errorf("standby %s is not running", in.ID)
		}
		if s.c.opts.Agent.Healthy(in.ID) {
			continue
		}
		if _, err := s.c.opts.Agent.Gate(ctx, in, chk, standbyGateTimeout); err != nil {
			return fmt.Errorf("standby %s is not healthy: %w", in.ID, err)
		}
	}
	return nil
}

// Applied returns the version the service routes ("" none).
func (c *Controller) Applied(service string) string {
	s, err := c.service(service)
	if err != nil {
		return ""
	}
	st := s.state()
	if st.Active == nil || len(st.Active.Instances) == 0 {
		return ""
	}
	return st.Active.Version
}

// FleetOperations lists the fleet deploys that have an operation on this
// controller (ID, Service and Version set). Right after Start these are
// the ones a restart kept prepared, waiting for CommitFleet or AbortFleet.
func (c *Controller) FleetOperations() []FleetRequest { return c.fleetOps.list() }

// Services lists the configured services in file order.
func (c *Controller) Services() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.cfg.ServiceOrder)
}

// ServiceConfig returns a service's configuration.
func (c *Controller) ServiceConfig(service string) (*config.Service, error) {
	s, err := c.service(service)
	if err != nil {
		return nil, err
	}
	return s.config(), nil
}

// Converge makes version the routed version of service: at once from
// instances a fleet deploy prepared for it or from a warm standby, else
// through a health-gated switch deploy. It returns when that ended, with
// the reason when it failed.
func (c *Controller) Converge(ctx context.Context, service, version string) error {
	s, err := c.service(service)
	if err != nil {
		return err
	}
	if c.Applied(service) == version {
		return nil
	}
	// An operation of a fleet deploy holding prepared instances (kept across
	// a restart while the deploy ended without this host) is resolved
	// first: switched to when it prepared version, else removed.
	if fid, fo := c.fleetOps.ofService(service); fo != nil {
		if fo.version == version {
			if err := c.CommitFleet(ctx, fid); err != nil {
				return err
			}
			return c.SettleFleet(ctx, fid)
		}
		if err := c.AbortFleet(ctx, fid); err != nil {
			return err
		}
	}
	st := s.state()
	var id string
	if st.Standby != nil && st.Standby.Version == version {
		id, err = s.startRollback(RollbackRequest{Service: service, To: version}, "converging to the fleet's committed version")
	} else {
		id, err = s.startDeploy(DeployRequest{Service: service, Version: version, Strategy: config.StrategySwitch})
	}
	if err != nil {
		return err
	}
	return c.WaitOp(ctx, service, id)
}

// WaitOp waits for an operation's end and returns its failure, if any.
func (c *Controller) WaitOp(ctx context.Context, service, id string) error {
	ch, cancel, err := c.Subscribe(service, id)
	if err != nil {
		return err
	}
	defer cancel()
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return fmt.Errorf("operation %s: event stream ended", id)
			}
			if ev.Type != EventDone {
				continue
			}
			if ev.Outcome != store.OutcomeDeployed {
				return fmt.Errorf("%s", ev.Message)
			}
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// RetireStandbyVersion retires the service's standby when it runs version.
func (c *Controller) RetireStandbyVersion(ctx context.Context, service, version, why string) error {
	s, err := c.service(service)
	if err != nil {
		return err
	}
	if st := s.state(); st.Standby == nil || st.Standby.Version != version {
		return nil
	}
	for attempt := 0; ; attempt++ {
		err := s.startRetireStandby(why)
		if !errors.Is(err, ErrBusy) || attempt > 100 {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Publish sends an event of a fleet operation to this host's event stream.
func (c *Controller) Publish(ev Event) { c.bus.publish(ev) }

// CanaryRunning reports whether a canary of service runs on this host.
func (c *Controller) CanaryRunning(service string) bool {
	s, err := c.service(service)
	if err != nil {
		return false
	}
	s.mu.Lock()
	op := s.op
	s.mu.Unlock()
	return op != nil && op.acceptsCanary.Load()
}

// Previous returns the version a rollback of service goes to: the warm
// standby, else the latest earlier version ("" none).
func (c *Controller) Previous(service string) string {
	s, err := c.service(service)
	if err != nil {
		return ""
	}
	v, _ := rollbackTarget(s.state(), "")
	return v
}
