package fleet

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cutover-dev/cutover/internal/coord"
	"github.com/cutover-dev/cutover/internal/deploy"
	"github.com/cutover-dev/cutover/internal/store"
)

// historyKeep is how many finished fleet operations of a service are kept.
const historyKeep = 100

// recordHistory stores the end of a fleet operation this host coordinated,
// and drops the oldest records beyond historyKeep.
func (a *Agent) recordHistory(run *coordRun, outcome store.Outcome, reason string, data map[string]any) {
	p := &run.plan
	end := time.Now()
	kind := store.OpDeploy
	if p.Kind == KindRollback {
		kind = store.OpRollback
	}
	rec := store.HistoryRecord{
		ID: p.ID, Service: p.Service, Kind: kind, Version: p.Version, From: p.From, Strategy: p.Strategy,
		Start: run.start, End: end, Outcome: outcome, Reason: reason,
		Hosts: p.Hosts, Coordinator: a.opts.Name,
	}
	if lost, ok := data["lost"].([]string); ok {
		rec.Lost = lost
	}
	if us, ok := data["last_switch_us"].(int64); ok {
		rec.Steps = map[string]time.Duration{"last_switch": time.Duration(us) * time.Microsecond}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(a.ctx), 5*time.Second)
	defer cancel()
	if _, err := a.opts.Store.Txn(ctx, coord.Txn{Then: []coord.Op{coord.Put(a.keys.historyEntry(p.Service, end, p.ID), encode(rec))}}); err != nil {
		a.log.Warn("record fleet history", "deploy", p.ID, "err", err)
		return
	}
	kvs, _, err := a.opts.Store.List(ctx, a.keys.history(p.Service))
	if err != nil || len(kvs) <= historyKeep {
		return
	}
	keys := make([]string, 0, len(kvs))
	for _, kv := range kvs {
		keys = append(keys, kv.Key)
	}
	slices.Sort(keys)
	var ops []coord.Op
	for _, k := range keys[:len(keys)-historyKeep] {
		ops = append(ops, coord.Delete(k))
	}
	if _, err := a.opts.Store.Txn(ctx, coord.Txn{Then: ops}); err != nil {
		a.log.Warn("trim fleet history", "service", p.Service, "err", err)
	}
}

// History returns up to limit newest finished fleet operations of service,
// newest first (limit ≤ 0: all kept).
func (a *Agent) History(ctx context.Context, service string, limit int) ([]store.HistoryRecord, error) {
	if !slices.Contains(a.host.Services(), service) {
		return nil, fmt.Errorf("%w: %q (known: %v)", deploy.ErrUnknownService, service, a.host.Services())
	}
	kvs, _, err := a.opts.Store.List(ctx, a.keys.history(service))
	if err != nil {
		return nil, fmt.Errorf("fleet: read the history of %s: %w", service, err)
	}
	slices.SortFunc(kvs, func(x, y coord.KV) int { return strings.Compare(y.Key, x.Key) })
	out := make([]store.HistoryRecord, 0, len(kvs))
	for _, kv := range kvs {
		if limit > 0 && len(out) == limit {
			break
		}
		if rec, err := decode[store.HistoryRecord](kv.Value); err == nil {
			out = append(out, rec)
		}
	}
	return out, nil
}
