// Package static routes to instances that something else runs: fixed
// host:port addresses per version. Starting an instance only resolves its
// address; stopping it only forgets it, and the health check alone decides
// whether it is usable.
package static

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/runtime"
)

// ErrNoTarget reports that a version has no address for a replica.
var ErrNoTarget = errors.New("no static target")

// Runtime resolves static addresses. It implements runtime.Runtime, holds no
// state and is safe for concurrent use. The zero value is ready to use.
type Runtime struct{}

var _ runtime.Runtime = (*Runtime)(nil)

// New returns a static Runtime.
func New() *Runtime { return &Runtime{} }

// Kind returns "static".
func (Runtime) Kind() string { return config.RuntimeStatic }

// Start returns the instance's address, chosen in this order:
// spec.Targets[spec.Index]; the service's static.targets[version][spec.Index];
// the service's static.address template rendered with .Port (spec.Port),
// .Version, .Service, .Instance and .Index. It fails with ErrNoTarget when
// none applies, or when the address is not host:port.
func (Runtime) Start(ctx context.Context, spec runtime.StartSpec) (runtime.Instance, error) {
	if spec.Service == nil {
		return runtime.Instance{}, fmt.Errorf("%w: no service given", ErrNoTarget)
	}
	addr, port, err := resolve(spec)
	if err != nil {
		return runtime.Instance{}, err
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return runtime.Instance{}, fmt.Errorf("%w: services.%s version %s: address %q is not host:port",
			ErrNoTarget, spec.Service.Name, spec.Version, addr)
	}
	return runtime.Instance{
		ID:        spec.InstanceID,
		Service:   spec.Service.Name,
		Version:   spec.Version,
		Runtime:   config.RuntimeStatic,
		Addr:      addr,
		Port:      port,
		StartedAt: time.Now(),
	}, nil
}

// resolve picks the address and, for a templated address, the port it uses.
func resolve(spec runtime.StartSpec) (addr string, port int, err error) {
	name := spec.Service.Name
	i := spec.Index
	if i < 0 {
		return "", 0, fmt.Errorf("%w: replica index %d is negative", ErrNoTarget, i)
	}
	if len(spec.Targets) > 0 {
		if i >= len(spec.Targets) {
			return "", 0, fmt.Errorf("%w: replica %d of version %s, but only %d targets were given",
				ErrNoTarget, i, spec.Version, len(spec.Targets))
		}
		return spec.Targets[i], 0, nil
	}
	st := spec.Service.Static
	if st == nil {
		return "", 0, fmt.Errorf("%w: services.%s has no static section; add static.targets or static.address",
			ErrNoTarget, name)
	}
	if targets, ok := st.Targets[spec.Version]; ok {
		if i >= len(targets) {
			return "", 0, fmt.Errorf("%w: services.%s.static.targets.%s lists %d addresses, replica %d needs one more",
				ErrNoTarget, name, spec.Version, len(targets), i)
		}
		return targets[i], 0, nil
	}
	if st.Address == "" {
		return "", 0, fmt.Errorf("%w: services.%s.static.targets has no entry for version %s (has %s) and static.address is not set",
			ErrNoTarget, name, spec.Version, versions(st.Targets))
	}
	addr, err = render(fmt.Sprintf("services.%s.static.address", name), st.Address, spec)
	if err != nil {
		return "", 0, err
	}
	return addr, spec.Port, nil
}

// render executes the address template.
func render(field, text string, spec runtime.StartSpec) (string, error) {
	data := struct {
		Version, Service, Instance string
		Port, Index                int
	}{spec.Version, spec.Service.Name, spec.InstanceID, spec.Port, spec.Index}
	t, err := template.New(field).Option("missingkey=error").Parse(text)
	if err == nil {
		var b strings.Builder
		if err = t.Execute(&b, data); err == nil {
			return b.String(), nil
		}
	}
	return "", fmt.Errorf("%w: %s %q: %v (available: .Port .Version .Service .Instance .Index)", ErrNoTarget, field, text, err)
}

// versions lists the versions that have targets, for error messages.
func versions(targets map[string][]string) string {
	if len(targets) == 0 {
		return "none"
	}
	vs := make([]string, 0, len(targets))
	for v := range targets {
		vs = append(vs, v)
	}
	slices.Sort(vs)
	return strings.Join(vs, ", ")
}

// Inspect reports Running: a static target's liveness is the health
// check's to judge.
func (Runtime) Inspect(ctx context.Context, inst runtime.Instance) (runtime.State, error) {
	return runtime.State{Running: true}, nil
}

// Stop does nothing: static targets are managed elsewhere.
func (Runtime) Stop(ctx context.Context, inst runtime.Instance, grace time.Duration) error {
	return nil
}

// LogTail returns "": static targets have no log here.
func (Runtime) LogTail(ctx context.Context, inst runtime.Instance, n int) (string, error) {
	return "", nil
}

// List returns nil, nil: static targets are known from the config.
func (Runtime) List(ctx context.Context) ([]runtime.Instance, error) { return nil, nil }
