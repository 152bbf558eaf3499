package docker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cutover-dev/cutover/internal/runtime"
	"github.com/cutover-dev/cutover/internal/runtime/docker/engine"
)

// Stop sends the container's stop signal (docker.stop_signal, default
// SIGTERM), lets the engine kill it after grace (rounded up to whole
// seconds), then removes it with its anonymous volumes. The call blocks up to
// grace; ctx should allow for it. A container that is already gone is not an
// error. If stopping fails (including ctx ending first), the container is
// force-removed (killed) all the same.
func (r *Runtime) Stop(ctx context.Context, inst runtime.Instance, grace time.Duration) error {
	ref := containerRef(inst)
	stopErr := r.cli.ContainerStop(ctx, ref, grace)
	if engine.IsGone(stopErr) {
		return nil
	}
	if stopErr != nil {
		r.log.Warn("container stop failed, forcing removal", "container", ref, "instance", inst.ID, "err", stopErr)
	}
	rmCtx := ctx
	if stopErr != nil {
		// Do not leave the container running because ctx ran out.
		var cancel context.CancelFunc
		rmCtx, cancel = context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
	}
	err := r.cli.ContainerRemove(rmCtx, ref, engine.RemoveOptions{Force: stopErr != nil, Volumes: true})
	if err != nil && !engine.IsGone(err) {
		return fmt.Errorf("stop container %s: %w", ref, errors.Join(stopErr, err))
	}
	r.log.Info("container removed", "service", inst.Service, "version", inst.Version, "instance", inst.ID, "container", ref)
	return nil
}
