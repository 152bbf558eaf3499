package docker

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cutover-dev/cutover/internal/runtime/docker/engine"
)

// ensureImage makes image available locally according to the pull policy:
// never (must be present), missing (pull when absent) or always (pull).
func (r *Runtime) ensureImage(ctx context.Context, image, policy string) error {
	if policy != pullAlways {
		_, err := r.cli.ImageInspect(ctx, image)
		switch {
		case err == nil:
			return nil
		case !errors.Is(err, engine.ErrNotFound):
			return fmt.Errorf("inspect image %q: %w", image, err)
		case policy == pullNever:
			return fmt.Errorf("%w: %q is not on this host and docker.pull is \"never\": build it first (docker build -t %s .) or set docker.pull to \"missing\"", ErrImageNotFound, image, image)
		}
	}
	r.log.Info("pulling image", "image", image, "policy", policy)
	if err := r.cli.ImagePull(ctx, image); err != nil {
		return fmt.Errorf("%w: %q (docker.pull is %q; is the name right and the registry reachable?): %w", ErrPull, image, policy, err)
	}
	r.log.Info("image pulled", "image", image)
	return nil
}

// templateRepository returns the repository an image template always
// renders to, or "" when the repository part depends on the version.
func templateRepository(tmpl, service string) string {
	var repos [2]string
	for i, v := range []string{"cutover-probe-a", "cutover-probe-b"} {
		img, err := render("docker.image", tmpl, templateData{Service: service, Version: v, Instance: "x", Port: 1, HostPort: 1})
		if err != nil {
			return ""
		}
		repos[i], _ = engine.SplitReference(img)
	}
	if repos[0] != repos[1] {
		return ""
	}
	return normalizeRepo(repos[0])
}

// normalizeRepo writes a Docker Hub repository the way the engine lists it:
// "docker.io/library/nginx" and "nginx" are the same repository.
func normalizeRepo(repo string) string {
	repo = strings.TrimPrefix(repo, "docker.io/")
	repo = strings.TrimPrefix(repo, "index.docker.io/")
	return strings.TrimPrefix(repo, "library/")
}
