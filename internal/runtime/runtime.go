// Package runtime starts, inspects and stops instances of an app version.
//
// A Runtime is one way of running instances: a local process, a Docker
// container, or a static address managed elsewhere. The controller owns the
// decisions; a Runtime only carries them out and reports what it sees.
package runtime

import (
	"context"
	"errors"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
)

// ErrNotFound reports that an instance no longer exists.
var ErrNotFound = errors.New("instance not found")

// StartSpec describes one instance to start.
type StartSpec struct {
	// Service is the service definition from the config.
	Service *config.Service
	// Version is the app version to run.
	Version string
	// InstanceID is a unique id chosen by the controller (e.g. "web-v2-1a2b3c").
	InstanceID string
	// Port is the host port the instance must listen on (from the service's ports).
	Port int
	// Targets overrides static addresses for this version (static runtime only).
	Targets []string
	// LogDir is where the instance's output log goes (process runtime).
	LogDir string
	// Index is the replica index, 0..Replicas-1, of the instance within its
	// version. The static runtime uses it to pick the replica's address from
	// a version's target list.
	Index int
}

// Instance is a started instance as recorded in the state store. It is a
// plain value: runtimes find the live object again from its fields.
type Instance struct {
	ID      string `json:"id"`
	Service string `json:"service"`
	Version string `json:"version"`
	// Runtime is the runtime kind that started it.
	Runtime string `json:"runtime"`
	// Host names the host the instance runs on, as the controller that
	// started it calls itself ("" for instances recorded before hosts were).
	Host string `json:"host,omitempty"`
	// Addr is host:port where the proxy reaches the instance.
	Addr string `json:"addr"`
	// Port is the allocated host port (0 for static targets).
	Port int `json:"port,omitempty"`
	// PID is the process id (process runtime); the process is its own group leader.
	PID int `json:"pid,omitempty"`
	// PIDStart is the process start time in clock ticks since boot, guarding against PID reuse.
	PIDStart uint64 `json:"pid_start,omitempty"`
	// ContainerID is the Docker container id (docker runtime).
	ContainerID string `json:"container_id,omitempty"`
	// LogPath is the instance's output log file, if any.
	LogPath string `json:"log_path,omitempty"`
	// StartedAt is when the instance was started.
	StartedAt time.Time `json:"started_at"`
}

// State is what a runtime observes of an instance.
type State struct {
	// Running reports whether the instance is alive.
	Running bool
	// ExitCode is the exit status when not running (-1 when unknown).
	ExitCode int
	// OOMKilled reports a container killed for memory.
	OOMKilled bool
	// Detail is a short human text ("exited with code 3", "killed by SIGKILL").
	Detail string
}

// Runtime starts and stops instances. Implementations are safe for concurrent use.
type Runtime interface {
	// Kind returns the runtime kind ("process", "docker", "static").
	Kind() string
	// Start starts one instance and returns as soon as it is launched (not healthy).
	// On error nothing is left running.
	Start(ctx context.Context, spec StartSpec) (Instance, error)
	// Inspect reports the instance's state; ErrNotFound when it is gone.
	Inspect(ctx context.Context, inst Instance) (State, error)
	// Stop ends the instance: SIGTERM (or the configured stop signal), wait up
	// to grace, then SIGKILL of the whole process group / container, then
	// remove it. Stopping an instance that is already gone is not an error.
	Stop(ctx context.Context, inst Instance, grace time.Duration) error
	// LogTail returns up to n last lines of the instance's output.
	LogTail(ctx context.Context, inst Instance, n int) (string, error)
	// List returns the instances of this runtime that carry cutover's marks
	// (docker labels); runtimes that cannot list return nil, nil.
	List(ctx context.Context) ([]Instance, error)
}
