package docker

import (
	"errors"
	"testing"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/dockertest"
	"github.com/cutover-dev/cutover/internal/runtime/docker/engine"
)

func TestPruneImages(t *testing.T) {
	e := newTestEnv(t)
	repo := e.repo + "-app"
	// Four distinct empty images of the service's repository, oldest
	// first, and the runnable sample image as v5.
	for _, v := range []string{"v1", "v2", "v3", "v4"} {
		dockertest.BuildImage(t, map[string][]byte{
			"Dockerfile": []byte("FROM scratch\nLABEL version=" + v + "\n"),
		}, repo+":"+v)
	}
	dockertest.BuildSampleImage(t, repo+":v5")
	dockertest.RemoveContainers(t, e.cli, dockertest.LabelKey+"="+e.owner)

	// v5 runs (and is in keep); a container of someone else, created but
	// never started, uses v2.
	svc := e.service(config.Docker{Image: repo + ":{{.Version}}", Network: "host"})
	e.start(svc, "v5")
	if _, _, err := e.cli.ContainerCreate(e.ctx, "", engine.ContainerConfig{
		Image: repo + ":v2", Cmd: []string{"/none"}, Labels: map[string]string{dockertest.LabelKey: e.owner},
	}); err != nil {
		t.Fatal(err)
	}

	// keepN 0 never prunes.
	if err := e.rt.PruneImages(e.ctx, svc.Name, []string{"v5"}, 0); err != nil {
		t.Fatal(err)
	}
	assertImages(t, e, repo, map[string]bool{"v1": true, "v2": true, "v3": true, "v4": true, "v5": true})

	// Unused and not kept: v1, v3, v4. The newest one (v4) stays.
	if err := e.rt.PruneImages(e.ctx, svc.Name, []string{"v5"}, 1); err != nil {
		t.Fatal(err)
	}
	assertImages(t, e, repo, map[string]bool{"v1": false, "v2": true, "v3": false, "v4": true, "v5": true})
	// Other repositories are untouched.
	if _, err := e.cli.ImageInspect(e.ctx, e.repo+":v1"); err != nil {
		t.Errorf("sample image of another repository: %v", err)
	}

	// A service the runtime has not seen is left alone.
	if err := e.rt.PruneImages(e.ctx, "unknown-service", nil, 1); err != nil {
		t.Errorf("PruneImages(unknown) = %v", err)
	}
}

func assertImages(t *testing.T, e *testEnv, repo string, want map[string]bool) {
	t.Helper()
	for v, present := range want {
		_, err := e.cli.ImageInspect(e.ctx, repo+":"+v)
		switch {
		case present && err != nil:
			t.Errorf("%s:%s removed: %v", repo, v, err)
		case !present && !errors.Is(err, engine.ErrNotFound):
			t.Errorf("%s:%s: %v, want removed", repo, v, err)
		}
	}
}
