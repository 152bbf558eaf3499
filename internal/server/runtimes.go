package server

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/runtime"
	"github.com/cutover-dev/cutover/internal/runtime/docker"
	"github.com/cutover-dev/cutover/internal/runtime/process"
	"github.com/cutover-dev/cutover/internal/runtime/static"
)

// runtimes creates each runtime on first use, so a host without Docker
// runs process and static services without complaint.
type runtimes struct {
	log    *slog.Logger
	cfg    *config.Config
	owner  string
	onExit func(runtime.Instance, runtime.State)
	mu     sync.Mutex
	active map[string]runtime.Runtime
}

func newRuntimes(log *slog.Logger, cfg *config.Config, onExit func(runtime.Instance, runtime.State)) *runtimes {
	return &runtimes{log: log, cfg: cfg, owner: docker.OwnerLabel(cfg.StateDir), onExit: onExit, active: map[string]runtime.Runtime{}}
}

func (r *runtimes) get(kind string) (runtime.Runtime, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rt, ok := r.active[kind]; ok {
		return rt, nil
	}
	var rt runtime.Runtime
	var err error
	switch kind {
	case config.RuntimeProcess, "":
		rt, err = process.New(process.Options{Logger: r.log, LogDir: filepath.Join(r.cfg.StateDir, "logs"), Owner: r.owner, OnExit: r.onExit})
	case config.RuntimeStatic:
		rt = static.New()
	case config.RuntimeDocker:
		rt, err = docker.New(docker.Options{Logger: r.log, InstanceLabel: r.owner})
	default:
		err = fmt.Errorf("unknown runtime %q", kind)
	}
	if err != nil {
		return nil, err
	}
	r.active[kind] = rt
	return rt, nil
}

func (r *runtimes) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rt := range r.active {
		if c, ok := rt.(interface{ Close() error }); ok {
			_ = c.Close()
		}
	}
}
