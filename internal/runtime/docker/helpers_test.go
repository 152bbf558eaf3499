package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/dockertest"
	"github.com/cutover-dev/cutover/internal/runtime"
	"github.com/cutover-dev/cutover/internal/runtime/docker/engine"
	"github.com/cutover-dev/cutover/internal/testutil"
)

// testEnv is a Runtime with a unique owner label, a sample image tagged v1
// and v2, and cleanups that remove every container of that owner and the
// image tags.
type testEnv struct {
	t     *testing.T
	ctx   context.Context
	cli   *engine.Client
	rt    *Runtime
	owner string
	repo  string // sample image repository, tags v1 and v2
	name  string // unique service name for the test
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	t.Parallel()
	cli := dockertest.RequireDocker(t)
	id := strings.ToLower(sanitizeName(strings.ReplaceAll(t.Name(), "/", "-")))
	e := &testEnv{
		t:     t,
		ctx:   t.Context(),
		cli:   cli,
		owner: "test-" + dockertest.RunID() + "-" + id,
		repo:  "cutover-test-" + dockertest.RunID() + "/" + id,
		name:  "t" + dockertest.RunID(),
	}
	dockertest.BuildSampleImage(t, e.repo+":v1", e.repo+":v2")
	// Registered after the image build so it runs first.
	dockertest.RemoveContainers(t, cli, LabelOwner+"="+e.owner)
	e.rt = e.newRuntime(e.owner)
	return e
}

// newRuntime returns a Runtime for owner that logs to the test output.
func (e *testEnv) newRuntime(owner string) *Runtime {
	rt, err := New(Options{InstanceLabel: owner, Logger: slog.New(slog.NewTextHandler(e.t.Output(), nil))})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = rt.Close() })
	return rt
}

// service returns a service running the sample image.
func (e *testEnv) service(d config.Docker) *config.Service {
	if d.Image == "" {
		d.Image = e.repo + ":{{.Version}}"
	}
	if d.Pull == "" {
		d.Pull = "never"
	}
	return &config.Service{Name: e.name, Docker: &d}
}

// start starts version of svc on a free port.
func (e *testEnv) start(svc *config.Service, version string) runtime.Instance {
	e.t.Helper()
	inst, err := e.rt.Start(e.ctx, e.spec(svc, version))
	if err != nil {
		e.t.Fatalf("Start %s: %v", version, err)
	}
	return inst
}

func (e *testEnv) spec(svc *config.Service, version string) runtime.StartSpec {
	port := testutil.FreePort(e.t)
	return runtime.StartSpec{Service: svc, Version: version, Port: port,
		InstanceID: fmt.Sprintf("%s-%s-%d", svc.Name, version, port)}
}

// waitHTTP polls http://addr/path until it answers 200 and returns the body.
func waitHTTP(t *testing.T, addr, path string) string {
	t.Helper()
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var last error
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := c.Get("http://" + addr + path)
		if err != nil {
			last = err
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return string(body)
		}
		last = fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	t.Fatalf("http://%s%s never answered 200: %v", addr, path, last)
	return ""
}

// waitExited polls Inspect until the instance is not running.
func (e *testEnv) waitExited(inst runtime.Instance) runtime.State {
	e.t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		st, err := e.rt.Inspect(e.ctx, inst)
		if err != nil {
			e.t.Fatalf("Inspect: %v", err)
		}
		if !st.Running && st.ExitCode != -1 {
			return st
		}
	}
	e.t.Fatalf("instance %s still running", inst.ID)
	return runtime.State{}
}

// waitHealth polls DockerHealth until it reports want.
func (e *testEnv) waitHealth(inst runtime.Instance, want string) {
	e.t.Helper()
	var got string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var err error
		got, err = e.rt.DockerHealth(e.ctx, inst)
		if err != nil {
			e.t.Fatalf("DockerHealth: %v", err)
		}
		if got == want {
			return
		}
	}
	e.t.Fatalf("DockerHealth = %q, want %q", got, want)
}

// stop stops inst with a 5s grace and checks it is gone.
func (e *testEnv) stop(inst runtime.Instance) {
	e.t.Helper()
	e.stopWithin(inst, 5*time.Second)
}

// stopWithin stops inst with grace and checks it is gone.
func (e *testEnv) stopWithin(inst runtime.Instance, grace time.Duration) {
	e.t.Helper()
	if err := e.rt.Stop(e.ctx, inst, grace); err != nil {
		e.t.Fatalf("Stop: %v", err)
	}
	if _, err := e.rt.Inspect(e.ctx, inst); !errors.Is(err, runtime.ErrNotFound) {
		e.t.Fatalf("Inspect after Stop: %v, want ErrNotFound", err)
	}
}
