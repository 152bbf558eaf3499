package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/dockertest"
	"github.com/cutover-dev/cutover/internal/loadgen"
	"github.com/cutover-dev/cutover/internal/runtime"
	"github.com/cutover-dev/cutover/internal/runtime/docker"
	"github.com/cutover-dev/cutover/internal/testutil"
)

// TestDockerDeployRollbackUnderLoad: with containers on a bridge network,
// deploy v1 → v2 → rollback → v2 and end the standby while 24 clients send
// requests: none fails, each step leaves exactly the containers it should,
// retired containers are removed, and keep_images prunes the image no kept
// version uses.
func TestDockerDeployRollbackUnderLoad(t *testing.T) {
	d := newDockerEnv(t, dockerOptions{network: "bridge", keepImages: 1})
	d.build("v0") // an old build never deployed: the one to prune
	d.build("v1")
	d.build("v2")
	d.start()
	d.mustCLI("deploy", "api", "v1")
	if v := d.version(); v != "v1" {
		t.Fatalf("serving %q, want v1", v)
	}
	d.wantRunning("after deploy of v1", map[string]int{"v1": 1})
	d.checkContainerSettings("v1")

	l := loadgen.New(loadgen.Options{URL: "http://" + d.http, Workers: 24, SlowEvery: 20, SlowPath: "/slow?ms=800"})
	ctx, cancel := context.WithCancel(context.Background())
	loadDone := make(chan struct{})
	go func() { defer close(loadDone); l.Run(ctx) }()
	defer func() { cancel(); <-loadDone }()

	d.mustCLI("deploy", "api", "v2")
	if v := d.version(); v != "v2" {
		t.Errorf("after deploy of v2 the proxy serves %s", v)
	}
	d.wantRunning("v2 live, v1 warm", map[string]int{"v1": 1, "v2": 1})
	firstV2 := d.containers()["v2"]

	r := d.mustCLI("rollback", "api")
	if v := d.version(); v != "v1" {
		t.Errorf("after rollback the proxy serves %s\n%s", v, r.stdout)
	}
	// A rollback retires the version it leaves at once, in the background
	// (drained, then stopped).
	waitFor(t, "v2 to be retired", 30*time.Second, func() bool { return len(d.containers()["v2"]) == 0 })
	d.wantRunning("v1 live again", map[string]int{"v1": 1})

	d.mustCLI("deploy", "api", "v2")
	if v := d.version(); v != "v2" {
		t.Errorf("after the second deploy of v2 the proxy serves %s", v)
	}
	d.wantRunning("v2 live, v1 warm", map[string]int{"v1": 1, "v2": 1})
	if again := d.containers()["v2"]; len(again) == 1 && len(firstV2) == 1 && again[0].ID == firstV2[0].ID {
		t.Errorf("the second deploy of v2 reused the retired container %.12s instead of a new one", again[0].ID)
	}

	d.mustCLI("promote", "api") // end the standby window: v1 is retired
	waitFor(t, "v1 to be retired", 30*time.Second, func() bool { return len(d.containers()["v1"]) == 0 })
	d.wantRunning("after the standby ended", map[string]int{"v2": 1})

	cancel()
	<-loadDone
	total, failed, per, errs := l.Totals()
	t.Logf("%d requests, %d failed, per version %v", total, failed, per)
	if failed != 0 {
		t.Errorf("%d of %d requests failed during deploys of containers: %v", failed, total, errs)
	}
	if total < 500 || per["v1"] == 0 || per["v2"] == 0 {
		t.Errorf("load did not reach both versions: %d requests, per version %v", total, per)
	}

	waitFor(t, "the unused image v0 to be pruned", 30*time.Second, func() bool { return !d.hasImage("v0") })
	for _, v := range []string{"v1", "v2"} {
		if !d.hasImage(v) {
			t.Errorf("image %s pruned; keep_images 1 keeps the live version and the newest other one", v)
		}
	}
	d.stop()
	// SIGTERM of cutover leaves the app running.
	d.wantRunning("after cutover stopped", map[string]int{"v2": 1})
}

// TestDockerFailedDeploys: a container that exits at once, one that never
// gets healthy, one whose image HEALTHCHECK fails (health.docker) and a
// missing image each fail the deploy with exit code 1 and a clear reason,
// leave traffic on v1 and leave no container behind.
func TestDockerFailedDeploys(t *testing.T) {
	d := newDockerEnv(t, dockerOptions{network: "host", dockerHealth: true, deployTimeout: "6s"})
	d.build("v1")
	d.build("crash", "--exit-immediately")
	d.build("sick", "--unhealthy")
	d.buildDockerfile("badcheck", `HEALTHCHECK --interval=500ms --timeout=2s --retries=1 CMD ["/sampleapp", "--exit-immediately"]`)
	d.start()
	d.mustCLI("deploy", "api", "v1")

	for _, tc := range []struct {
		version string
		want    []string
	}{
		// The exit code and the container's own last words.
		{"crash", []string{"exited with code 3", "exiting with code 3 at once as asked by --exit-immediately"}},
		// The health probe's answer and the container's log.
		{"sick", []string{"did not become healthy", "status 503", "sample-app sick listening"}},
		// HTTP passes, the image's HEALTHCHECK does not.
		{"badcheck", []string{"docker HEALTHCHECK", "unhealthy", "sample-app badcheck listening"}},
		// Never built: the error says how to fix it.
		{"v9", []string{d.repo + ":v9", "not on this host", "docker build"}},
	} {
		r := d.cli("deploy", "api", tc.version)
		if r.code != exitFailed {
			t.Errorf("deploy %s: exit %d, want %d (failed)\nstdout:\n%s\nstderr:\n%s", tc.version, r.code, exitFailed, r.stdout, r.stderr)
		}
		out := r.stdout + r.stderr
		for _, want := range tc.want {
			if !strings.Contains(out, want) {
				t.Errorf("deploy %s: output lacks %q:\n%s", tc.version, want, out)
			}
		}
		if v := d.version(); v != "v1" {
			t.Errorf("serving %s after the failed deploy of %s, want v1", v, tc.version)
		}
		if left := d.containers()[tc.version]; len(left) != 0 {
			t.Errorf("failed deploy of %s left containers %v", tc.version, left)
		}
		d.wantRunning("after the failed deploy of "+tc.version, map[string]int{"v1": 1})
	}
	d.stop()
}

// TestDockerKill9 kills cutover serve with SIGKILL mid-deploy and after a
// switch. On restart the recorded containers are re-adopted by label
// (same container ids, health-gated), the container of the unfinished
// deploy and a stray container of this cutover are removed, and traffic
// stays on the version that served.
func TestDockerKill9(t *testing.T) {
	d := newDockerEnv(t, dockerOptions{network: "host"})
	d.build("v1")
	d.build("v2")
	d.build("slow", "--start-delay", "60s")
	d.start()
	d.mustCLI("deploy", "api", "v1")
	v1 := d.containerIDs()

	d.mustCLI("deploy", "api", "slow", "--detach")
	// The container passes through "created" on its way to running: poll
	// its state without the strict check of d.running.
	waitFor(t, "the slow version's container to run", 20*time.Second, func() bool {
		cs := d.containers()["slow"]
		return len(cs) == 1 && cs[0].State == "running"
	})
	d.kill9()
	d.wantRunning("containers must survive kill -9 of cutover", map[string]int{"v1": 1, "slow": 1})
	stray := d.startStray("stray")

	d.start()
	if v := d.version(); v != "v1" {
		t.Errorf("serving %s after restart, want v1", v)
	}
	waitFor(t, "the unfinished deploy's container and the stray one to be removed", 20*time.Second, func() bool {
		c := d.containers()
		return len(c["slow"]) == 0 && len(c["stray"]) == 0
	})
	if got := d.containerIDs(); !slices.Equal(got, v1) {
		t.Errorf("containers after restart %v, want v1's %v re-adopted, not restarted", got, v1)
	}
	if !strings.Contains(d.logs.String(), stray.ID) {
		t.Errorf("the stray instance %s was not reported as an orphan:\n%s", stray.ID, d.logs)
	}
	var hist []map[string]any
	if err := json.Unmarshal([]byte(d.mustCLI("history", "api", "-o", "json").stdout), &hist); err != nil {
		t.Fatal(err)
	}
	if len(hist) == 0 || hist[0]["outcome"] != "failed" || !strings.Contains(fmt.Sprint(hist[0]["reason"]), "restart") {
		t.Errorf("newest history record %v, want the interrupted deploy as failed", hist)
	}

	// Killed after a switch: v2 stays live and v1 warm, both re-adopted.
	d.mustCLI("deploy", "api", "v2")
	before := d.containerIDs()
	d.kill9()
	d.start()
	if v := d.version(); v != "v2" {
		t.Errorf("serving %s after restart, want v2", v)
	}
	if got := d.containerIDs(); !slices.Equal(got, before) {
		t.Errorf("containers after restart %v, want %v re-adopted", got, before)
	}
	d.mustCLI("rollback", "api") // the warm standby still works
	if v := d.version(); v != "v1" {
		t.Errorf("serving %s after rollback, want v1", v)
	}
	d.stop()
}

// startStray starts a container of service api with this cutover's labels
// that no state names, as a deploy whose record was lost would leave.
func (d *dockerEnv) startStray(version string) runtime.Instance {
	d.t.Helper()
	d.build(version)
	rt, err := docker.New(docker.Options{InstanceLabel: d.owner, Logger: slog.New(slog.NewTextHandler(d.t.Output(), nil))})
	if err != nil {
		d.t.Fatal(err)
	}
	defer rt.Close()
	svc := &config.Service{Name: "api", Docker: &config.Docker{Image: d.repo + ":{{.Version}}", Pull: "never", Network: "host"}}
	inst, err := rt.Start(d.t.Context(), runtime.StartSpec{Service: svc, Version: version, InstanceID: "api-" + version + "-0000",
		Port: testutil.FreePort(d.t)})
	if err != nil {
		d.t.Fatal(err)
	}
	return inst
}

// checkContainerSettings checks that the container of version carries the
// docker section of the config written by newDockerEnv (bridge network).
func (d *dockerEnv) checkContainerSettings(version string) {
	d.t.Helper()
	cs := d.containers()[version]
	if len(cs) != 1 {
		d.t.Fatalf("containers of %s: %v, want one", version, cs)
	}
	info, err := d.docker.ContainerInspect(d.t.Context(), cs[0].ID)
	if err != nil {
		d.t.Fatal(err)
	}
	if want := "/cutover-api-" + version + "-"; !strings.HasPrefix(info.Name, want) {
		d.t.Errorf("container name %q, want the prefix %q", info.Name, want)
	}
	for k, v := range map[string]string{"e2e.run": dockertest.RunID(), docker.LabelService: "api",
		docker.LabelVersion: version, docker.LabelOwner: d.owner} {
		if got := info.Config.Labels[k]; got != v {
			d.t.Errorf("label %s = %q, want %q", k, got, v)
		}
	}
	for _, kv := range []string{"APP_VERSION=" + version, "FROM_ENV_FILE=yes", "PORT=8080", "CUTOVER_VERSION=" + version} {
		if !slices.Contains(info.Config.Env, kv) {
			d.t.Errorf("container environment %v lacks %s", info.Config.Env, kv)
		}
	}
	hc := info.HostConfig
	if hc.Memory != 64<<20 || hc.NanoCPUs != 1e9 || info.Config.StopSignal != "SIGTERM" || hc.NetworkMode != "bridge" {
		d.t.Errorf("memory %d, nano cpus %d, stop signal %q, network %q; want 64m, 1 cpu, SIGTERM, bridge",
			hc.Memory, hc.NanoCPUs, info.Config.StopSignal, hc.NetworkMode)
	}
	if len(hc.Binds) != 1 || hc.Binds[0] != d.dir+":/data:ro" {
		d.t.Errorf("binds %v, want %s:/data:ro", hc.Binds, d.dir)
	}
	b := hc.PortBindings["8080/tcp"]
	if len(b) != 1 || b[0].HostIP != "127.0.0.1" || (b[0].HostPort != strconv.Itoa(d.ports[0]) && b[0].HostPort != strconv.Itoa(d.ports[1])) {
		d.t.Errorf("port bindings %v, want 8080/tcp on 127.0.0.1 at one of the ports %v", hc.PortBindings, d.ports)
	}
}
