package fleet

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cutover-dev/cutover/internal/coord"
	"github.com/cutover-dev/cutover/internal/deploy"
	"github.com/cutover-dev/cutover/internal/store"
)

// A rolling fleet deploy takes the plan's hosts a batch at a time
// (Plan.Batch, `--batch N`), for teams who want the host-by-host rollout
// they know: deploys/<id>/batch names the batch; its hosts prepare the new
// version beside the old one and report it as for a switch; the
// coordinator then marks the batch committed and its hosts switch and
// acknowledge; the next batch follows. Hosts of a switched batch serve the
// new version and are ready while the deploy runs, so the fleet is mixed
// by design until the last batch. Once every batch switched, the commit
// records the new version as the fleet's (guarded by the plan's active
// revision). A failure aborts the deploy: hosts that switched go back to
// the warm standby of the old version, the others remove what they
// started.

// driveRolling runs a planned rolling fleet deploy to its end.
func (a *Agent) driveRolling(ctx context.Context, run *coordRun, planRev int64, lockRaw []byte) {
	p := &run.plan
	batches := p.batches()
	switched := 0
	fail := func(reason, output string) {
		outcome := store.OutcomeFailed
		switch {
		case errors.Is(context.Cause(ctx), errAbortedByUser) || strings.HasPrefix(reason, "aborted by user"):
			outcome = store.OutcomeAborted
		case switched > 0:
			outcome = store.OutcomeRolledBack
		}
		if switched > 0 {
			a.emit(run, deploy.EventStep, "rollback", fmt.Sprintf("%d host(s) switched; taking them back to %s", switched, p.From), nil)
		}
		a.abortFleet(run, planRev, lockRaw, reason)
		a.done(run, outcome, reason, output, map[string]any{"switched": switched, "hosts": len(p.Hosts)})
	}
	for i, hosts := range batches {
		bs := BatchState{Index: i, Of: len(batches), Hosts: hosts, At: time.Now()}
		if err := a.putBatch(run, lockRaw, bs); err != nil {
			fail(err.Error(), "")
			return
		}
		a.emit(run, deploy.EventStep, "batch", fmt.Sprintf("batch %d/%d: preparing %s on %s", i+1, len(batches), p.Version, strings.Join(hosts, ", ")),
			map[string]any{"batch": i + 1, "of": len(batches), "hosts": hosts})
		reason, output, ok := a.awaitBatch(ctx, run, hosts, time.Now().Add(p.PrepareTimeout), false)
		if !ok {
			fail(reason, output)
			return
		}
		bs.Committed, bs.At = true, time.Now()
		if err := a.putBatch(run, lockRaw, bs); err != nil {
			fail(err.Error(), "")
			return
		}
		if reason, _, ok := a.awaitBatch(ctx, run, hosts, time.Now().Add(a.opts.CommitTimeout), true); !ok {
			switched += len(hosts) // some did: go back everywhere
			fail(reason, "")
			return
		}
		switched += len(hosts)
		a.emit(run, deploy.EventStep, "batch", fmt.Sprintf("batch %d/%d switched to %s (%d/%d host(s))", i+1, len(batches), p.Version, switched, len(p.Hosts)),
			map[string]any{"batch": i + 1, "of": len(batches), "switched": switched, "hosts": len(p.Hosts)})
	}
	rev, why := a.commitFrom(run, lockRaw, PhaseRolling)
	if why != "" {
		fail(why, "")
		return
	}
	a.emit(run, deploy.EventStep, "commit", fmt.Sprintf("committed %s on %d host(s) at revision %d", p.Version, len(p.Hosts), rev),
		map[string]any{"revision": rev})
	data := a.awaitSwitched(run, rev)
	a.finalize(run, lockRaw, data)
	a.done(run, store.OutcomeDeployed, "", "", data)
}

// putBatch records the batch, guarded by the service's lock.
func (a *Agent) putBatch(run *coordRun, lockRaw []byte, bs BatchState) error {
	ctx, cancel := context.WithTimeout(a.ctx, 5*time.Second)
	defer cancel()
	p := &run.plan
	res, err := a.opts.Store.Txn(ctx, coord.Txn{
		If:   []coord.Cmp{coord.ValueIs(a.keys.lock(p.Service), lockRaw), coord.Exists(a.keys.plan(p.ID))},
		Then: []coord.Op{coord.Put(a.keys.batch(p.ID), encode(bs))},
	})
	if err != nil {
		return fmt.Errorf("record batch %d: %w", bs.Index+1, err)
	}
	if !res.Succeeded {
		return errors.New("this host lost the service's lock (its lease expired)")
	}
	_ = a.view.waitRev(ctx, res.Revision)
	return nil
}

// awaitBatch waits until every host of a batch prepared (switch false) or
// acknowledged its switch (switch true); a failure, a lost host beyond
// --allow-lost, an abort or the deadline end it with the reason.
func (a *Agent) awaitBatch(ctx context.Context, run *coordRun, hosts []string, deadline time.Time, switching bool) (string, string, bool) {
	p := &run.plan
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	reported := map[string]bool{}
	lost := map[string]bool{}
	for {
		snap, changed := a.view.read()
		fs := decodeState(snap)
		d := fs.deploys[p.ID]
		if d != nil && d.phase() == PhaseAborted {
			return d.state.Reason, "", false
		}
		if d != nil && snap.synced {
			n := 0
			for _, h := range hosts {
				if f, bad := d.failed[h]; bad && !switching {
					return fmt.Sprintf("host %s could not prepare %s: %s", h, p.Version, f.Reason), f.Output, false
				}
				if ack, ok := d.switched[h]; ok && switching && ack.Error != "" {
					return fmt.Sprintf("host %s could not switch to %s: %s", h, p.Version, ack.Error), "", false
				}
				_, done := d.prepared[h]
				if switching {
					_, done = d.switched[h]
				}
				if done {
					n++
					if !reported[h] {
						reported[h] = true
						what := "prepared on"
						if switching {
							what = "switched on"
						}
						a.emit(run, deploy.EventInfo, "batch", fmt.Sprintf("%s %s %s", p.Version, what, h), map[string]any{"host": h})
					}
					continue
				}
				if _, alive := fs.hosts[h]; !alive && !lost[h] {
					if len(lost) >= p.AllowLost {
						return fmt.Sprintf("host %s lost during the rolling deploy (lease expired)", h), "", false
					}
					lost[h] = true
					a.emit(run, deploy.EventWarn, "batch", fmt.Sprintf("host %s lost; skipped (--allow-lost); it converges when it returns", h), map[string]any{"host": h})
				}
				if lost[h] {
					n++
				}
			}
			if n == len(hosts) {
				return "", "", true
			}
		}
		select {
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), errAbortedByUser) {
				return "aborted by user", "", false
			}
			return "interrupted: " + context.Cause(ctx).Error(), "", false
		case <-timer.C:
			var missing []string
			for _, h := range hosts {
				if !reported[h] && !lost[h] {
					missing = append(missing, h)
				}
			}
			slices.Sort(missing)
			what := "prepare"
			if switching {
				what = "switch to"
			}
			return fmt.Sprintf("host(s) %s did not %s %s in time", strings.Join(missing, ", "), what, p.Version), "", false
		case <-changed:
		}
	}
}
