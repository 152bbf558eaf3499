package fleet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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

// maxCompares is how many prepared reports one commit transaction checks;
// beyond it (etcd's --max-txn-ops defaults to 128) the reports are checked
// in batches first.
const maxCompares = 120

// DeployRequest asks the fleet to deploy or roll back a service.
type DeployRequest struct {
	Kind    Kind
	Service string
	// Version to deploy; for a rollback "" means the version the committed
	// one replaced.
	Version  string
	Strategy string
	Force    bool
	Targets  []string
	// Watch keeps the deploy open after the commit; a rollback meanwhile
	// ends it as rolled back.
	Watch time.Duration
	// AllowLost is how many hosts may be lost during prepare and dropped.
	AllowLost int
	// PrepareTimeout bounds the prepare phase (required).
	PrepareTimeout time.Duration
	// Reason says why (rollbacks).
	Reason string
	// Automatic marks a rollback cutover started itself.
	Automatic bool
	// Batch is how many hosts a rolling deploy takes at a time (default 1).
	Batch int
	// Allow lists migration lint rules the preflight lets through.
	Allow []string
}

// coordRun is a fleet operation this host coordinates.
type coordRun struct {
	plan   Plan
	start  time.Time
	cancel context.CancelCauseFunc
}

// errAbortedByUser is the cause of a user's abort.
var errAbortedByUser = errors.New("aborted by user")

func newDeployID() string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return "d-" + hex.EncodeToString(b[:])
}

// Deploy plans a fleet deploy (or rollback) of one service, returns its id
// at once and runs it in the background: every registered host prepares,
// one transaction commits (or the deploy aborts everywhere), every host
// applies. Follow it through the host's event stream with the returned id.
// A second operation on the service anywhere in the fleet gets an error
// wrapping deploy.ErrBusy that names who holds it.
func (a *Agent) Deploy(ctx context.Context, req DeployRequest) (string, error) {
	if !a.started.Load() || a.ctx.Err() != nil {
		return "", ErrNotReady
	}
	if !slices.Contains(a.host.Services(), req.Service) {
		return "", fmt.Errorf("%w: %q (known: %v)", deploy.ErrUnknownService, req.Service, a.host.Services())
	}
	if req.Kind == "" {
		req.Kind = KindDeploy
	}
	sess := a.sess.Load()
	if sess == nil {
		return "", ErrNotReady
	}
	id := newDeployID()
	lock := Lock{Deploy: id, Kind: req.Kind, Host: a.opts.Name, Since: time.Now()}
	lockRaw := encode(lock)
	lockKey := a.keys.lock(req.Service)
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	res, err := a.opts.Store.Txn(tctx, coord.Txn{
		If:   []coord.Cmp{coord.Missing(lockKey)},
		Then: []coord.Op{coord.PutWithLease(lockKey, lockRaw, sess.Lease())},
	})
	if err != nil {
		return "", fmt.Errorf("fleet: lock service %s: %w", req.Service, err)
	}
	if !res.Succeeded {
		return "", a.busyError(tctx, req.Service)
	}
	unlock := func() {
		uctx, c := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer c()
		_, _ = a.opts.Store.Txn(uctx, coord.Txn{If: []coord.Cmp{coord.ValueIs(lockKey, lockRaw)}, Then: []coord.Op{coord.Delete(lockKey)}})
	}
	if err := a.view.waitRev(tctx, res.Revision); err != nil {
		unlock()
		return "", fmt.Errorf("fleet: read the fleet: %w", err)
	}
	snap, _ := a.view.read()
	fs := decodeState(snap)
	plan, err := a.makePlan(id, req, fs)
	if err != nil {
		unlock()
		return "", err
	}
	activeKey := a.keys.active(req.Service)
	res, err = a.opts.Store.Txn(tctx, coord.Txn{
		If: []coord.Cmp{coord.ValueIs(lockKey, lockRaw), coord.ModRevisionIs(activeKey, plan.ActiveRev)},
		Then: []coord.Op{
			coord.Put(a.keys.plan(id), encode(plan)),
			coord.Put(a.keys.state(id), encode(State{Phase: firstPhase(plan), At: time.Now(), By: a.opts.Name})),
		},
	})
	if err != nil || !res.Succeeded {
		unlock()
		if err == nil {
			err = fmt.Errorf("%w: service %s changed while the deploy was being planned; try again", deploy.ErrBusy, req.Service)
		}
		return "", err
	}
	rctx, rcancel := context.WithCancelCause(a.ctx)
	run := &coordRun{plan: plan, start: time.Now(), cancel: rcancel}
	a.mu.Lock()
	a.coords[id] = run
	a.mu.Unlock()
	what := "deploy"
	if plan.Kind == KindRollback {
		what = "rollback"
	}
	a.emit(run, deploy.EventStep, "accepted", fmt.Sprintf("fleet %s of %s %s to %d host(s): %s (%s strategy)",
		what, plan.Service, plan.Version, len(plan.Hosts), strings.Join(plan.Hosts, ", "), plan.Strategy),
		map[string]any{"hosts": plan.Hosts, "from": plan.From, "strategy": plan.Strategy, "fleet": true})
	a.wg.Go(func() {
		defer rcancel(nil)
		a.drive(rctx, run, res.Revision, lockRaw)
	})
	return id, nil
}

// firstPhase is the phase a plan starts in.
func firstPhase(p Plan) Phase {
	if p.Strategy == config.StrategyRolling {
		return PhaseRolling
	}
	return PhasePreparing
}

// busyError names who holds a service's lock.
func (a *Agent) busyError(ctx context.Context, service string) error {
	kv, found, _, err := a.opts.Store.Get(ctx, a.keys.lock(service))
	if err != nil || !found {
		return fmt.Errorf("%w: service %s: another fleet operation holds it; try again", deploy.ErrBusy, service)
	}
	l, _ := decode[Lock](kv.Value)
	return fmt.Errorf("%w: service %s: %s %s coordinated by host %s is running since %s; wait for it to end, or run `cutover abort %s`",
		deploy.ErrBusy, service, l.Kind, l.Deploy, l.Host, l.Since.Format(time.TimeOnly), service)
}

// makePlan decides what goes where.
func (a *Agent) makePlan(id string, req DeployRequest, fs *fleetState) (Plan, error) {
	act, hasActive := fs.actives[req.Service]
	p := Plan{
		ID: id, Kind: req.Kind, Service: req.Service, Version: req.Version, Strategy: req.Strategy,
		Hosts: fs.hostNames(), AllowLost: req.AllowLost, Coordinator: a.opts.Name, Created: time.Now(),
		Force: req.Force, Targets: req.Targets, Watch: req.Watch, Reason: req.Reason, Automatic: req.Automatic,
		Allow: req.Allow,
	}
	// A fleet of one runs the service's migrations in its prepare; larger
	// fleets do not run them yet (they must run once, before any host starts).
	p.Migrate = len(p.Hosts) == 1
	if p.Strategy == "" {
		p.Strategy = config.StrategySwitch
	}
	if req.Kind == KindRollback {
		p.Strategy = config.StrategySwitch
	}
	switch p.Strategy {
	case config.StrategySwitch:
	case config.StrategyCanary:
		cfg, err := a.host.CanaryConfig(req.Service)
		if err != nil {
			return Plan{}, err
		}
		p.Steps = deploy.CanarySteps(cfg.Steps)
		if !hasActive {
			return Plan{}, fmt.Errorf("%w: service %s has no committed version to compare a canary with; deploy the first version with --strategy switch", deploy.ErrInvalid, req.Service)
		}
	case config.StrategyRolling:
		if req.Batch < 0 {
			return Plan{}, fmt.Errorf("%w: batch %d: give how many hosts to take at a time (1 or more)", deploy.ErrInvalid, req.Batch)
		}
		p.Batch = max(req.Batch, 1)
	default:
		return Plan{}, fmt.Errorf("%w: strategy %q: use switch, canary or rolling", deploy.ErrInvalid, p.Strategy)
	}
	if hasActive {
		p.From, p.ActiveRev = act.Version, act.rev
	}
	if req.Kind == KindRollback && p.Version == "" {
		if !hasActive || act.Previous == "" {
			return Plan{}, fmt.Errorf("%w: service %s has no earlier committed version; name one with --to VERSION", deploy.ErrNothingToRollBack, req.Service)
		}
		p.Version = act.Previous
	}
	if hasActive && act.Version == p.Version {
		return Plan{}, fmt.Errorf("%w: %s is already the committed version of %s", deploy.ErrInvalid, p.Version, req.Service)
	}
	if len(p.Hosts) == 0 {
		return Plan{}, fmt.Errorf("%w: no host is registered in the fleet", deploy.ErrInvalid)
	}
	digest, fields, err := a.host.ConfigDigest(req.Service)
	if err != nil {
		return Plan{}, err
	}
	p.ConfigDigest, p.ConfigFields = digest, fields
	timeout := req.PrepareTimeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	p.PrepareDeadline = p.Created.Add(timeout)
	if p.Strategy == config.StrategyRolling {
		p.PrepareTimeout = timeout
		// Each batch has its own prepare deadline.
		p.PrepareDeadline = time.Time{}
	}
	return p, nil
}

// Abort asks the fleet operation running on service to stop: before its
// commit everything is undone on every host; after it, nothing changes
// (roll back instead).
func (a *Agent) Abort(ctx context.Context, service string) error {
	snap, _ := a.view.read()
	fs := decodeState(snap)
	d := fs.openDeploy(service)
	if d == nil {
		return fmt.Errorf("%w: service %s has no fleet deploy running", deploy.ErrNoOperation, service)
	}
	a.mu.Lock()
	run := a.coords[d.id]
	a.mu.Unlock()
	if run != nil {
		run.cancel(errAbortedByUser)
		return nil
	}
	switch d.phase() {
	case PhasePreparing, PhaseRolling:
	case PhaseCanary:
		return a.sendControl(ctx, service, Control{Action: ControlAbort})
	default:
		return fmt.Errorf("%w: deploy %s of %s is already committed; run `cutover rollback %s`", deploy.ErrBusy, d.id, service, service)
	}
	// Another host coordinates: abort through the store; its commit then
	// fails its compare on the state.
	st := State{Phase: PhaseAborted, Reason: "aborted by user (on host " + a.opts.Name + ")", At: time.Now(), By: a.opts.Name}
	res, err := a.opts.Store.Txn(ctx, coord.Txn{
		If:   []coord.Cmp{coord.ModRevisionIs(a.keys.state(d.id), d.stateRev)},
		Then: []coord.Op{coord.Put(a.keys.state(d.id), encode(st))},
	})
	if err != nil {
		return err
	}
	if !res.Succeeded {
		return fmt.Errorf("%w: deploy %s of %s moved on; check `cutover status`", deploy.ErrBusy, d.id, service)
	}
	return nil
}

// Promote retires the warm standby of service on every host.
func (a *Agent) Promote(ctx context.Context, service string) error {
	snap, _ := a.view.read()
	fs := decodeState(snap)
	if d := fs.openDeploy(service); d != nil && d.plan.Strategy == config.StrategyCanary && d.phase() == PhaseCanary {
		return a.sendControl(ctx, service, Control{Action: ControlPromote})
	}
	act, ok := fs.actives[service]
	if !ok || act.Previous == "" {
		return fmt.Errorf("%w: service %s has no standby to promote past", deploy.ErrNoOperation, service)
	}
	if d := fs.openDeploy(service); d != nil {
		return fmt.Errorf("%w: service %s: %s %s is running", deploy.ErrBusy, service, d.plan.Kind, d.id)
	}
	r := Retire{Version: act.Previous, Reason: "promoted by user", At: time.Now(), By: a.opts.Name}
	_, err := a.opts.Store.Txn(ctx, coord.Txn{Then: []coord.Op{coord.Put(a.keys.retire(service), encode(r))}})
	return err
}

func (a *Agent) emit(run *coordRun, typ deploy.EventType, step, msg string, data map[string]any) {
	a.host.Emit(deploy.Event{
		Time: time.Now(), Service: run.plan.Service, OpID: run.plan.ID, Type: typ, Step: step,
		Message: msg, Elapsed: time.Since(run.start), Data: data,
	})
}

func (a *Agent) done(run *coordRun, outcome store.Outcome, reason, output string, data map[string]any) {
	ev := deploy.Event{
		Time: time.Now(), Service: run.plan.Service, OpID: run.plan.ID, Type: deploy.EventDone, Step: "done",
		Elapsed: time.Since(run.start), Outcome: outcome, Output: output, Data: data,
	}
	switch outcome {
	case store.OutcomeDeployed:
		ev.Message = fmt.Sprintf("%s is live on every host", run.plan.Version)
		if run.plan.Kind == KindRollback {
			ev.Message = fmt.Sprintf("rolled back to %s on every host", run.plan.Version)
		}
	case store.OutcomeAborted:
		ev.Message, ev.Error = "fleet deploy aborted: "+reason, reason
	case store.OutcomeRolledBack:
		ev.Message, ev.Error = fmt.Sprintf("%s was rolled back: %s", run.plan.Version, reason), reason
	default:
		ev.Message, ev.Error = fmt.Sprintf("fleet %s of %s failed, no host switched: %s", run.plan.Kind, run.plan.Version, reason), reason
	}
	a.recordHistory(run, outcome, reason, data)
	a.host.Emit(ev)
	a.log.Info("fleet operation finished", "deploy", run.plan.ID, "service", run.plan.Service, "version", run.plan.Version,
		"outcome", outcome, "reason", reason, "elapsed", time.Since(run.start))
	a.mu.Lock()
	delete(a.coords, run.plan.ID)
	a.mu.Unlock()
}
