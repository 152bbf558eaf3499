package docker

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/cutover-dev/cutover/internal/runtime"
	"github.com/cutover-dev/cutover/internal/runtime/docker/engine"
)

// List returns every container, running or not, that carries this
// cutover's owner label, rebuilt from its labels, so that a restarted
// controller can adopt running instances and remove leftovers. Containers
// whose labels are incomplete are skipped with a warning.
func (r *Runtime) List(ctx context.Context) ([]runtime.Instance, error) {
	list, err := r.cli.ContainerList(ctx, engine.ListOptions{All: true, Labels: []string{LabelOwner + "=" + r.owner}})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	out := make([]runtime.Instance, 0, len(list))
	for _, c := range list {
		inst, err := instanceFromLabels(c)
		if err != nil {
			r.log.Warn("container with incomplete cutover labels skipped", "container", c.ID, "err", err)
			continue
		}
		if _, known := r.repo(inst.Service); !known && isReference(c) {
			repo, _ := engine.SplitReference(c.Image)
			r.learnRepo(inst.Service, normalizeRepo(repo))
		}
		out = append(out, inst)
	}
	return out, nil
}

// instanceFromLabels rebuilds an Instance from a listed container.
func instanceFromLabels(c engine.ContainerSummary) (runtime.Instance, error) {
	l := c.Labels
	inst := runtime.Instance{
		ID:          l[LabelInstance],
		Service:     l[LabelService],
		Version:     l[LabelVersion],
		Runtime:     Kind,
		Addr:        l[LabelAddr],
		ContainerID: c.ID,
		StartedAt:   time.Unix(c.Created, 0),
	}
	if inst.ID == "" || inst.Service == "" || inst.Version == "" {
		return inst, fmt.Errorf("missing %s, %s or %s label", LabelInstance, LabelService, LabelVersion)
	}
	port, err := strconv.Atoi(l[LabelPort])
	if err != nil || port <= 0 || port > 65535 {
		return inst, fmt.Errorf("bad %s label %q", LabelPort, l[LabelPort])
	}
	inst.Port = port
	if inst.Addr == "" {
		inst.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	}
	return inst, nil
}

// isReference reports whether a listed container names its image by
// reference ("repo:tag") rather than by id, as the engine does once the tag
// it was created from has moved.
func isReference(c engine.ContainerSummary) bool {
	return c.Image != "" && !strings.HasPrefix(c.Image, "sha256:") &&
		!strings.HasPrefix(strings.TrimPrefix(c.ImageID, "sha256:"), c.Image)
}
