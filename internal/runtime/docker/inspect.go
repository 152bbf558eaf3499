package docker

import (
	"context"
	"fmt"
	"syscall"

	"github.com/cutover-dev/cutover/internal/runtime"
	"github.com/cutover-dev/cutover/internal/runtime/docker/engine"
)

// Docker HEALTHCHECK states reported by DockerHealth.
const (
	HealthNone      = "none"
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
)

// Inspect reports whether the instance's container runs, and how it ended:
// exit code, out-of-memory kill, and a short Detail such as "exited with
// code 3" or "killed: out of memory". A removed container yields an error
// matching runtime.ErrNotFound.
func (r *Runtime) Inspect(ctx context.Context, inst runtime.Instance) (runtime.State, error) {
	info, err := r.inspect(ctx, inst)
	if err != nil {
		return runtime.State{}, err
	}
	return stateOf(info.State), nil
}

// DockerHealth returns the status of the image's HEALTHCHECK for the
// instance: "healthy", "unhealthy", "starting", or "none" when the image
// declares no health check. A removed container yields an error matching
// runtime.ErrNotFound.
func (r *Runtime) DockerHealth(ctx context.Context, inst runtime.Instance) (string, error) {
	info, err := r.inspect(ctx, inst)
	if err != nil {
		return "", err
	}
	if info.State.Health == nil || info.State.Health.Status == "" {
		return HealthNone, nil
	}
	return info.State.Health.Status, nil
}

// inspect fetches the container of inst, mapping 404 to runtime.ErrNotFound.
func (r *Runtime) inspect(ctx context.Context, inst runtime.Instance) (engine.ContainerInfo, error) {
	ref := containerRef(inst)
	info, err := r.cli.ContainerInspect(ctx, ref)
	if engine.IsGone(err) {
		return info, fmt.Errorf("container %s: %w", ref, runtime.ErrNotFound)
	}
	if err != nil {
		return info, fmt.Errorf("inspect container %s: %w", ref, err)
	}
	return info, nil
}

// containerRef names the container of inst: its id, or its predictable name
// when the id was not recorded.
func containerRef(inst runtime.Instance) string {
	if inst.ContainerID != "" {
		return inst.ContainerID
	}
	return containerName(inst.Service, inst.Version, inst.ID)
}

// stateOf translates the engine's container state.
func stateOf(s engine.ContainerState) runtime.State {
	st := runtime.State{Running: s.Running, ExitCode: -1, OOMKilled: s.OOMKilled}
	switch {
	case s.Running && s.Paused:
		st.Detail = "paused"
	case s.Restarting:
		st.Detail = "restarting"
	case s.Running:
		st.Detail = "running"
	case s.Status == "created":
		st.Detail = "created, not started"
	case s.Status == "removing":
		st.Detail = "being removed"
	default:
		st.ExitCode = s.ExitCode
		switch {
		case s.OOMKilled:
			st.Detail = "killed: out of memory"
		case s.Dead:
			st.Detail = fmt.Sprintf("dead (exit code %d)", s.ExitCode)
		case s.ExitCode > 128 && s.ExitCode < 128+32:
			st.Detail = fmt.Sprintf("exited with code %d (%s)", s.ExitCode, signalName(syscall.Signal(s.ExitCode-128)))
		default:
			st.Detail = fmt.Sprintf("exited with code %d", s.ExitCode)
		}
	}
	if s.Error != "" {
		st.Detail += ": " + s.Error
	}
	return st
}

// signalName returns "SIGKILL"-style names for common signals.
func signalName(sig syscall.Signal) string {
	switch sig {
	case syscall.SIGKILL:
		return "SIGKILL"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGQUIT:
		return "SIGQUIT"
	case syscall.SIGABRT:
		return "SIGABRT"
	case syscall.SIGSEGV:
		return "SIGSEGV"
	case syscall.SIGHUP:
		return "SIGHUP"
	case syscall.SIGBUS:
		return "SIGBUS"
	}
	return fmt.Sprintf("signal %d", int(sig))
}
