package deploy

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/cutover-dev/cutover/internal/metrics"
	"github.com/cutover-dev/cutover/internal/store"
)

// A fleet canary runs on every host at the weight the fleet decides: the
// fleet's coordinator sums every host's numbers, judges them, and moves
// all hosts through the steps together. On this host the prepared version
// joins beside the live one at the first weight, follows each weight the
// fleet sets, and is promoted (CommitFleet) or removed (AbortFleet).

// answer sends err to the sender of m, if it waits for one.
func (m fleetMsg) answer(err error) {
	if m.reply != nil {
		m.reply <- err
	}
}

// fleetCanary is the body of a fleet operation whose prepared version runs
// as a canary.
func (s *service) fleetCanary(ctx context.Context, op *opRun, req FleetRequest, fo *fleetOp, p *prepared) result {
	op.info("prepare", "%s prepared as a canary; waiting for the fleet to start it", req.Version)
	defer fleetCanaryMarks.Delete(fo)
	joined := false
	join := func() error {
		if joined {
			return nil
		}
		since, err := s.joinCanary(ctx, req.Version, p.insts)
		if err != nil {
			return err
		}
		joined = true
		if s.c.opts.Metrics != nil {
			fleetCanaryMarks.Store(fo, s.markCanary(s.activeVersion(), req.Version))
		}
		fo.mu.Lock()
		fo.since, fo.insts = since, p.insts
		fo.mu.Unlock()
		return nil
	}
	remove := func(why error) result {
		if !joined {
			r := p.undo(why)
			r.outcome, r.reason = store.OutcomeAborted, why.Error()
			return r
		}
		if err := s.undoCanary(context.WithoutCancel(ctx), op, why.Error()); err != nil {
			return failed(ctx, fmt.Errorf("%s; removing the canary failed: %w", why, err))
		}
		return result{outcome: store.OutcomeRolledBack, reason: why.Error()}
	}
	for {
		select {
		case <-ctx.Done():
			return remove(context.Cause(ctx))
		case m := <-fo.ctl:
			switch m.kind {
			case fleetWeight:
				err := join()
				if err == nil {
					err = s.setCanaryWeight(ctx, 0, m.weight, false)
				}
				m.answer(err)
				if err == nil {
					op.emit(EventInfo, "canary", fmt.Sprintf("%s%% of traffic to %s (set by the fleet)", trimFloat(m.weight), req.Version),
						map[string]any{"weight": m.weight})
				}
			case fleetAbort:
				return remove(errors.New("the fleet rolled the canary back"))
			case fleetCommit:
				if err := join(); err != nil {
					fo.switched <- err
					return p.undo(err)
				}
				dr := req.DeployRequest
				dr.Watch = ""
				old, err := s.promoteCanaryRoute(context.WithoutCancel(ctx), op, dr)
				fo.switched <- err
				if err != nil {
					return failed(ctx, err)
				}
				return s.afterSwitch(context.WithoutCancel(ctx), op, dr, old, p.env)
			}
		}
	}
}

// SetFleetCanaryWeight routes weight percent of the service's traffic on
// this host to the canary prepared for the fleet deploy id (the first call
// adds it beside the live version). It returns once the weight is routed.
func (c *Controller) SetFleetCanaryWeight(ctx context.Context, id string, weight float64) error {
	if weight < 0 || weight > 100 {
		return fmt.Errorf("%w: canary weight %g: give a percentage from 0 to 100", ErrInvalid, weight)
	}
	fo := c.fleetOps.get(id)
	if fo == nil {
		return fmt.Errorf("%w: fleet deploy %s has nothing prepared on this host", ErrNoOperation, id)
	}
	reply := make(chan error, 1)
	ok, err := fo.send(ctx, fleetMsg{kind: fleetWeight, weight: weight, reply: reply})
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("fleet deploy %s ended on this host", id)
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fleetCanaryMarks holds the metrics mark of each fleet canary that joined
// (*fleetOp → canaryMark).
var fleetCanaryMarks sync.Map

// FleetCanaryStats returns this host's numbers of the live version and of
// the canary of fleet deploy id since the canary joined (exact, however
// long ago: see canaryMark), and a canary
// instance its health check reports unhealthy ("" none). ok is false
// until the canary took traffic on this host.
func (c *Controller) FleetCanaryStats(id string) (baseline, canary metrics.Stats, unhealthy string, ok bool) {
	fo := c.fleetOps.get(id)
	if fo == nil || c.opts.Metrics == nil {
		return baseline, canary, "", false
	}
	fo.mu.Lock()
	since, insts, service, version := fo.since, fo.insts, fo.service, fo.version
	fo.mu.Unlock()
	if since.IsZero() {
		return baseline, canary, "", false
	}
	s, err := c.service(service)
	if err != nil {
		return baseline, canary, "", false
	}
	if m, ok := fleetCanaryMarks.Load(fo); ok {
		w := m.(canaryMark).since(s, s.activeVersion(), version)
		baseline, canary = w.Baseline, w.Canary
	} else {
		baseline = c.opts.Metrics.SnapshotSince(service, s.activeVersion(), since)
		canary = c.opts.Metrics.SnapshotSince(service, version, since)
	}
	for _, in := range insts {
		if !c.opts.Agent.Healthy(in.ID) {
			unhealthy = in.ID
			break
		}
	}
	return baseline, canary, unhealthy, true
}
