package docker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cutover-dev/cutover/internal/runtime/docker/engine"
)

// PruneImages removes old images of a service. It considers the tags of the
// service's image repository (the repository part of docker.image, learnt
// from Start or List since the Runtime was created; for a service it has not
// seen it does nothing). It never removes a tag whose version is in keep, nor
// an image used by any container on the engine (running or not), and keeps
// the keepN newest of the remaining tags; the rest are removed (untagged, and
// deleted when no tag is left). keepN <= 0 means never prune, as for
// docker.keep_images.
func (r *Runtime) PruneImages(ctx context.Context, service string, keep []string, keepN int) error {
	if keepN <= 0 {
		return nil
	}
	repo, ok := r.repo(service)
	if !ok {
		r.log.Info("image prune skipped: repository unknown", "service", service)
		return nil
	}
	images, err := r.cli.ImageList(ctx, engine.ImageListOptions{Reference: repo})
	if err != nil {
		return fmt.Errorf("prune images of %s: %w", service, err)
	}
	used, err := r.usedImages(ctx)
	if err != nil {
		return fmt.Errorf("prune images of %s: %w", service, err)
	}
	type candidate struct {
		tag     string
		created time.Time
	}
	var cands []candidate
	for _, img := range images {
		if used[img.ID] {
			continue
		}
		for _, tag := range img.RepoTags {
			tagRepo, version := engine.SplitReference(tag)
			if normalizeRepo(tagRepo) != repo || slices.Contains(keep, version) {
				continue
			}
			created := time.Unix(img.Created, 0)
			if info, err := r.cli.ImageInspect(ctx, img.ID); err == nil {
				created = info.Created // sub-second precision orders quick builds
			}
			cands = append(cands, candidate{tag: tag, created: created})
		}
	}
	if len(cands) <= keepN {
		return nil
	}
	slices.SortStableFunc(cands, func(a, b candidate) int { return b.created.Compare(a.created) })
	var errs []error
	for _, c := range cands[keepN:] {
		err := r.cli.ImageRemove(ctx, c.tag, false)
		switch {
		case err == nil:
			r.log.Info("image removed", "service", service, "image", c.tag)
		case engine.IsGone(err):
		case errors.Is(err, engine.ErrConflict):
			r.log.Info("image kept: in use", "service", service, "image", c.tag)
		default:
			errs = append(errs, fmt.Errorf("remove image %s: %w", c.tag, err))
		}
	}
	return errors.Join(errs...)
}

// usedImages returns the ids of images used by any container on the engine.
func (r *Runtime) usedImages(ctx context.Context) (map[string]bool, error) {
	list, err := r.cli.ContainerList(ctx, engine.ListOptions{All: true})
	if err != nil {
		return nil, err
	}
	used := make(map[string]bool, len(list))
	for _, c := range list {
		used[c.ImageID] = true
	}
	return used, nil
}
