package fleet

import (
	"context"
	"fmt"
	"time"

	"github.com/cutover-dev/cutover/internal/coord"
)

// KindLocal marks a lock held by an operation that runs on one host only
// (a canary or rolling update of a fleet of one).
const KindLocal Kind = "local"

// adopt records the version this host serves as the committed version of
// every service the fleet has none of.
func (a *Agent) adopt(ctx context.Context) error {
	for _, svc := range a.host.Services() {
		v := a.host.Applied(svc)
		if v == "" {
			continue
		}
		act := Active{Version: v, Deploy: "adopted", Kind: KindDeploy, Previous: a.previous(svc), At: time.Now()}
		key := a.keys.active(svc)
		if _, err := a.opts.Store.Txn(ctx, coord.Txn{If: []coord.Cmp{coord.Missing(key)}, Then: []coord.Op{coord.Put(key, encode(act))}}); err != nil {
			return fmt.Errorf("fleet: record the served version of %s: %w", svc, err)
		}
	}
	return nil
}

// previousVersioner is a Host that knows the version a rollback goes to.
type previousVersioner interface{ Previous(service string) string }

func (a *Agent) previous(svc string) string {
	if p, ok := a.host.(previousVersioner); ok {
		return p.Previous(svc)
	}
	return ""
}

// RunLocal runs an operation that only this host takes part in (a canary
// or a rolling update of a fleet of one) under the service's fleet lock:
// start begins it and returns its id; wait blocks until it ends. When it
// ends, the version the host then serves becomes the committed one, and
// the lock is released. A fleet operation on the service meanwhile is
// refused with deploy.ErrBusy, and the host does not converge the service.
func (a *Agent) RunLocal(ctx context.Context, service string, start func() (string, error), wait func(id string) error) (string, error) {
	sess := a.sess.Load()
	if sess == nil || !a.started.Load() {
		return "", ErrNotReady
	}
	lockKey := a.keys.lock(service)
	lock := Lock{Deploy: "local-" + newDeployID(), Kind: KindLocal, Host: a.opts.Name, Since: time.Now()}
	raw := encode(lock)
	res, err := a.opts.Store.Txn(ctx, coord.Txn{If: []coord.Cmp{coord.Missing(lockKey)}, Then: []coord.Op{coord.PutWithLease(lockKey, raw, sess.Lease())}})
	if err != nil {
		return "", err
	}
	if !res.Succeeded {
		return "", a.busyError(ctx, service)
	}
	release := func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(a.ctx), 5*time.Second)
		defer cancel()
		ops := []coord.Op{coord.Delete(lockKey)}
		if v := a.host.Applied(service); v != "" {
			act := Active{Version: v, Deploy: lock.Deploy, Kind: KindLocal, Previous: a.previous(service), At: time.Now()}
			ops = append(ops, coord.Put(a.keys.active(service), encode(act)))
		}
		if _, err := a.opts.Store.Txn(rctx, coord.Txn{If: []coord.Cmp{coord.ValueIs(lockKey, raw)}, Then: ops}); err != nil {
			a.log.Error("record the result of a local operation", "service", service, "err", err)
		}
	}
	id, err := start()
	if err != nil {
		release()
		return "", err
	}
	a.wg.Go(func() {
		defer release()
		if err := wait(id); err != nil {
			a.log.Info("local operation ended", "service", service, "op", id, "result", err)
		}
	})
	return id, nil
}
