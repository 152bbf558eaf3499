// Package dockertest helps tests use the real Docker engine: it checks the
// engine is there, builds small images locally (no registry, no docker CLI)
// and removes what a test created.
//
// Images built here carry the label LabelKey=RunID() and are named
// cutover-test-<RunID>/..., so leftovers of a crashed run can be found with
// `docker images --filter label=cutover.test`. Containers are the tests' own:
// give them a label unique to the test and pass it to RemoveContainers.
//
// Packages using the engine should run their tests under Main.
package dockertest

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/runtime/docker/engine"
)

// LabelKey marks images and containers created by tests.
const LabelKey = "cutover.test"

var (
	runIDOnce sync.Once
	runID     string

	// underMain is set by Main: images may then outlive a single test.
	underMain atomic.Bool
)

// Main runs a package's tests and then removes every container and image
// labelled LabelKey=RunID(), including the sample image BuildSampleImage
// shares between tests. Call it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(dockertest.Main(m)) }
//
// A failed cleanup turns a passing run into exit code 1.
func Main(m *testing.M) int {
	underMain.Store(true)
	code := m.Run()
	if err := removeRun(); err != nil {
		fmt.Fprintln(os.Stderr, "dockertest: cleanup:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// removeRun removes the containers and images of this run, newest image
// first so that derived images go before their parents.
func removeRun() error {
	cli, err := engine.New(engine.Options{Host: engine.HostFromEnv()})
	if err != nil {
		return err
	}
	defer cli.Close()
	ctx, cancel := cleanupContext()
	defer cancel()
	if cli.Ping(ctx) != nil {
		return nil // no engine, nothing was created
	}
	label := LabelKey + "=" + RunID()
	var errs []error
	containers, err := cli.ContainerList(ctx, engine.ListOptions{All: true, Labels: []string{label}})
	errs = append(errs, err)
	for _, c := range containers {
		if err := cli.ContainerRemove(ctx, c.ID, engine.RemoveOptions{Force: true, Volumes: true}); !engine.IsGone(err) {
			errs = append(errs, err)
		}
	}
	images, err := cli.ImageList(ctx, engine.ImageListOptions{Labels: []string{label}})
	errs = append(errs, err)
	slices.SortFunc(images, func(a, b engine.ImageSummary) int { return cmp.Compare(b.Created, a.Created) })
	for _, img := range images {
		if err := cli.ImageRemove(ctx, img.ID, true); !engine.IsGone(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// RunID returns a random id, fixed for the life of the test binary, that
// makes image names and labels of this run unique.
func RunID() string {
	runIDOnce.Do(func() {
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		runID = hex.EncodeToString(b)
	})
	return runID
}

// RequireDocker returns a client for the engine at DOCKER_HOST (or the
// default socket) after checking it answers. When it does not, the test is
// skipped, or failed when the environment variable CI is set (a missing
// dependency must not pass silently in CI). The client is closed when the
// test ends.
func RequireDocker(t testing.TB) *engine.Client {
	t.Helper()
	cli, err := engine.New(engine.Options{Host: engine.HostFromEnv()})
	if err != nil {
		t.Fatalf("docker client: %v", err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cli.Ping(ctx); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("docker engine required in CI: %v", err)
		} else {
			t.Skipf("docker engine not available: %v", err)
		}
	}
	return cli
}

// cleanupContext is the context used by cleanups, which run after the
// test's own context is gone.
func cleanupContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}

// RemoveContainers registers a cleanup that force-removes, with their
// anonymous volumes, every container carrying all the given labels
// ("key=value"). Use a label unique to the test.
func RemoveContainers(t testing.TB, cli *engine.Client, labels ...string) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := cleanupContext()
		defer cancel()
		list, err := cli.ContainerList(ctx, engine.ListOptions{All: true, Labels: labels})
		if err != nil {
			t.Errorf("list containers for cleanup: %v", err)
			return
		}
		for _, c := range list {
			err := cli.ContainerRemove(ctx, c.ID, engine.RemoveOptions{Force: true, Volumes: true})
			if err != nil && !engine.IsGone(err) {
				t.Errorf("remove container %s: %v", c.ID, err)
			}
		}
	})
}
