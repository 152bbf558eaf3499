// Package docker runs app instances as Docker containers on the local
// engine.
//
// Each instance is one container named cutover-<service>-<version>-<id>,
// labelled with the service, version, instance id, port and the owning
// cutover (Options.InstanceLabel), so that a restarted cutover can find its
// containers again with List and nobody else's. The app is reached on
// 127.0.0.1:<port>: with host networking the app listens on 127.0.0.1:$PORT
// itself; with a bridge network it listens on 0.0.0.0:$PORT inside the
// container ($PORT is then docker.container_port) and that port is published
// on the service's host address (default 127.0.0.1) only.
//
// Image, Command and Env values are Go templates with .Service, .Version,
// .Instance, .Port (the port the app listens on) and .HostPort (the port the
// proxy dials).
package docker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/runtime"
	"github.com/cutover-dev/cutover/internal/runtime/docker/engine"
)

// Kind is the runtime kind reported by Kind.
const Kind = config.RuntimeDocker

// Sentinel errors; match with errors.Is.
var (
	// ErrInvalidOptions reports bad Options given to New.
	ErrInvalidOptions = errors.New("invalid docker runtime options")
	// ErrInvalidSpec reports a start spec or docker section that cannot be
	// turned into a container (bad memory size, reserved label, ...).
	ErrInvalidSpec = errors.New("invalid docker spec")
	// ErrImageNotFound reports an image absent from the host when the pull
	// policy forbids pulling it.
	ErrImageNotFound = errors.New("image not found")
	// ErrPull reports a failed image pull.
	ErrPull = errors.New("image pull failed")
)

// Options configures a Runtime.
type Options struct {
	// Logger receives container lifecycle events (default slog.Default()).
	Logger *slog.Logger
	// Host is the engine address (default DOCKER_HOST, else
	// unix:///var/run/docker.sock). TLS is not supported.
	Host string
	// InstanceLabel identifies this cutover (e.g. host name plus a hash of
	// its state directory). It is stored in the cutover.owner label of every
	// container started, and List returns only containers carrying it, so
	// two cutovers on one engine never adopt or remove each other's
	// containers. Required.
	InstanceLabel string
}

// Runtime starts app instances as containers. It is safe for concurrent
// use. New does no I/O: an unreachable engine is reported by the first call
// (or by Ping).
type Runtime struct {
	log   *slog.Logger
	cli   *engine.Client
	owner string

	mu    sync.Mutex
	repos map[string]string // service → image repository, learnt by Start and List
}

var _ runtime.Runtime = (*Runtime)(nil)

// New returns a Runtime for opts.
func New(opts Options) (*Runtime, error) {
	if opts.InstanceLabel == "" {
		return nil, fmt.Errorf("%w: InstanceLabel is required (it marks the containers this cutover owns)", ErrInvalidOptions)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Host == "" {
		opts.Host = engine.HostFromEnv()
	}
	cli, err := engine.New(engine.Options{Host: opts.Host})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	return &Runtime{
		log:   opts.Logger.With("runtime", Kind),
		cli:   cli,
		owner: opts.InstanceLabel,
		repos: map[string]string{},
	}, nil
}

// Kind returns "docker".
func (r *Runtime) Kind() string { return Kind }

// Ping checks that the engine is reachable and speaks a supported API
// version; call it at startup to fail early with a clear error.
func (r *Runtime) Ping(ctx context.Context) error { return r.cli.Ping(ctx) }

// Close releases idle connections to the engine. Containers are left
// running; the Runtime stays usable.
func (r *Runtime) Close() error { return r.cli.Close() }

// learnRepo remembers the image repository of a service for PruneImages.
func (r *Runtime) learnRepo(service, repo string) {
	if service == "" || repo == "" {
		return
	}
	r.mu.Lock()
	r.repos[service] = repo
	r.mu.Unlock()
}

// repo returns the image repository learnt for a service.
func (r *Runtime) repo(service string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	repo, ok := r.repos[service]
	return repo, ok
}
