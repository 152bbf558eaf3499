package e2e

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/dockertest"
	"github.com/cutover-dev/cutover/internal/runtime/docker"
	"github.com/cutover-dev/cutover/internal/runtime/docker/engine"
	"github.com/cutover-dev/cutover/internal/testutil"
)

// dockerEnv is an env whose service "api" runs the sample app as
// containers of the image repository repo, on the real Docker engine.
// Versions are images the test builds with build; every container of the
// env carries the owner label of its cutover and is removed when the test
// ends.
type dockerEnv struct {
	*env
	docker *engine.Client
	repo   string // e.g. cutover-test-<run>/e2e-testdeploy
	base   string // the sample image, outside repo so that no prune sees it
	owner  string // cutover.owner label of this env's containers
}

// dockerOptions shape the service of a dockerEnv.
type dockerOptions struct {
	// network is "host" or "bridge"; with bridge the app listens on
	// 0.0.0.0:8080 in the container, published on 127.0.0.1 only.
	network string
	// keepImages is docker.keep_images.
	keepImages int
	// dockerHealth is health.docker.
	dockerHealth bool
	// deployTimeout is deploy_timeout (default 10s).
	deployTimeout string
}

// newDockerEnv writes a config for service "api" with runtime docker and
// tags the sample image for build to start from.
func newDockerEnv(t *testing.T, o dockerOptions) *dockerEnv {
	t.Helper()
	cli := dockertest.RequireDocker(t)
	name := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	repo := "cutover-test-" + dockertest.RunID() + "/e2e-" + name
	base := repo + "-base:sample"
	dockertest.BuildSampleImage(t, base)

	dir, err := os.MkdirTemp("", "co-e2e-docker-")
	if err != nil {
		t.Fatal(err)
	}
	stateDir := filepath.Join(dir, "state")
	d := &dockerEnv{
		env:    &env{t: t, dir: dir, mark: filepath.Base(dir), sock: filepath.Join(dir, "admin.sock")},
		docker: cli,
		repo:   repo,
		base:   base,
		owner:  docker.OwnerLabel(stateDir),
	}
	// Registered before the env's cleanup so that it runs after cutover
	// is stopped: every container of this cutover goes, whatever happened.
	dockertest.RemoveContainers(t, cli, docker.LabelOwner+"="+d.owner)
	t.Cleanup(d.cleanup)
	d.http = fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	d.ports = [2]int{testutil.FreePort(t), testutil.FreePort(t)}

	var net string
	switch o.network {
	case "host":
		net = "      network: host\n"
	case "bridge":
		net = "      network: bridge\n      container_port: 8080\n      command: [\"--addr=0.0.0.0\"]\n"
	default:
		t.Fatalf("network %q: want host or bridge", o.network)
	}
	if o.deployTimeout == "" {
		o.deployTimeout = "10s"
	}
	envFile := filepath.Join(dir, "app.env")
	if err := os.WriteFile(envFile, []byte("# read by the runtime\nFROM_ENV_FILE=yes\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d.cfg = filepath.Join(dir, "cutover.yaml")
	y := fmt.Sprintf(`listen:
  http: %q
admin:
  socket: %q
state_dir: %q
access_log: false
services:
  api:
    runtime: docker
    docker:
      image: "%s:{{.Version}}"
      pull: never
%s      env:
        APP_VERSION: "{{.Version}}"
      env_files: [%q]
      volumes: [%q]
      labels:
        e2e.run: %q
      memory: 64m
      cpus: 1
      stop_signal: SIGTERM
      keep_images: %d
    ports: [%d, %d]
    health:
      path: /healthz
      interval: 100ms
      timeout: 1s
      healthy_threshold: 2
      unhealthy_threshold: 2
      docker: %t
    drain_timeout: 10s
    deploy_timeout: %s
    standby: 60s
    stop_grace: 5s
`, d.http, d.sock, stateDir, repo, net, envFile, dir+":/data:ro", dockertest.RunID(), o.keepImages, d.ports[0], d.ports[1], o.dockerHealth, o.deployTimeout)
	if err := os.WriteFile(d.cfg, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	return d
}

// build makes version an image of its own (a distinct image id, created
// now) that runs the sample app with flags, e.g. "--exit-immediately".
func (d *dockerEnv) build(version string, flags ...string) {
	d.t.Helper()
	entry := append([]string{dockertest.SampleBinary}, flags...)
	quoted := make([]string, len(entry))
	for i, a := range entry {
		quoted[i] = strconv.Quote(a)
	}
	d.buildDockerfile(version, "ENTRYPOINT ["+strings.Join(quoted, ", ")+"]")
}

// buildDockerfile makes version an image of its own from the sample image
// with the extra Dockerfile lines.
func (d *dockerEnv) buildDockerfile(version string, lines ...string) {
	d.t.Helper()
	dockerfile := fmt.Sprintf("FROM %s\nLABEL e2e.version=%q\n%s\n", d.base, version, strings.Join(lines, "\n"))
	dockertest.BuildImage(d.t, map[string][]byte{"Dockerfile": []byte(dockerfile)}, d.repo+":"+version)
}

// containers returns this cutover's containers, running or not, by
// version.
func (d *dockerEnv) containers() map[string][]engine.ContainerSummary {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list, err := d.docker.ContainerList(ctx, engine.ListOptions{All: true, Labels: []string{docker.LabelOwner + "=" + d.owner}})
	if err != nil {
		d.t.Fatalf("list containers: %v", err)
	}
	out := map[string][]engine.ContainerSummary{}
	for _, c := range list {
		v := c.Labels[docker.LabelVersion]
		out[v] = append(out[v], c)
	}
	return out
}

// running returns how many running containers each version has, and
// fails the test on a container that is not running: cutover removes the
// containers it stops.
func (d *dockerEnv) running() map[string]int {
	d.t.Helper()
	out := map[string]int{}
	for v, cs := range d.containers() {
		for _, c := range cs {
			if c.State != "running" {
				d.t.Errorf("container %v of %s is %s (%s), want it running or removed", c.Names, v, c.State, c.Status)
				continue
			}
			out[v]++
		}
	}
	return out
}

// containerIDs returns the ids of this cutover's containers.
func (d *dockerEnv) containerIDs() []string {
	d.t.Helper()
	var ids []string
	for _, cs := range d.containers() {
		for _, c := range cs {
			ids = append(ids, c.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

// hasImage reports whether the tag repo:version exists.
func (d *dockerEnv) hasImage(version string) bool {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := d.docker.ImageInspect(ctx, d.repo+":"+version)
	if err != nil && !engine.IsGone(err) {
		d.t.Fatalf("inspect image: %v", err)
	}
	return err == nil
}

// wantRunning fails the test unless exactly the given versions run, with
// the given number of containers each.
func (d *dockerEnv) wantRunning(when string, want map[string]int) {
	d.t.Helper()
	if got := d.running(); !maps.Equal(got, want) {
		d.t.Errorf("%s: running containers %v, want %v", when, got, want)
	}
}
