package docker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cutover-dev/cutover/internal/runtime"
	"github.com/cutover-dev/cutover/internal/runtime/docker/engine"
)

// cleanupTimeout bounds removing a container after a failed start.
const cleanupTimeout = 30 * time.Second

// Start creates and starts the container of one instance and returns as
// soon as the engine has started it (not when the app is healthy). The image
// is the service's docker.image template rendered with the version, made
// available per docker.pull. On error no container is left behind.
func (r *Runtime) Start(ctx context.Context, spec runtime.StartSpec) (runtime.Instance, error) {
	p, err := r.makePlan(spec)
	if err != nil {
		return runtime.Instance{}, err
	}
	if repo := templateRepository(spec.Service.Docker.Image, spec.Service.Name); repo != "" {
		r.learnRepo(spec.Service.Name, repo)
	}
	if err := r.ensureImage(ctx, p.image, p.pull); err != nil {
		return runtime.Instance{}, err
	}
	id, warnings, err := r.cli.ContainerCreate(ctx, p.name, p.config)
	if err != nil {
		if errors.Is(err, engine.ErrConflict) {
			return runtime.Instance{}, fmt.Errorf("create container %s: name taken by a leftover container (remove it with docker rm -f %s): %w", p.name, p.name, err)
		}
		return runtime.Instance{}, fmt.Errorf("create container %s: %w", p.name, err)
	}
	for _, w := range warnings {
		r.log.Warn("container create warning", "container", p.name, "warning", w)
	}
	if err := r.cli.ContainerStart(ctx, id); err != nil {
		r.removeAfterFailure(ctx, id, p.name)
		return runtime.Instance{}, fmt.Errorf("start container %s: %w", p.name, err)
	}
	r.log.Info("container started", "service", spec.Service.Name, "version", spec.Version,
		"instance", spec.InstanceID, "container", p.name, "image", p.image, "addr", p.addr)
	return runtime.Instance{
		ID:          spec.InstanceID,
		Service:     spec.Service.Name,
		Version:     spec.Version,
		Runtime:     Kind,
		Addr:        p.addr,
		Port:        spec.Port,
		ContainerID: id,
		StartedAt:   time.Now(),
	}, nil
}

// removeAfterFailure force-removes a container that could not be started,
// even when ctx is already cancelled.
func (r *Runtime) removeAfterFailure(ctx context.Context, id, name string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	err := r.cli.ContainerRemove(ctx, id, engine.RemoveOptions{Force: true, Volumes: true})
	if err != nil && !engine.IsGone(err) {
		r.log.Error("remove failed container", "container", name, "err", err)
	}
}
