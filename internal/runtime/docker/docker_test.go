package docker

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/runtime"
)

func TestStartHostNetwork(t *testing.T) {
	e := newTestEnv(t)
	svc := e.service(config.Docker{Network: "host", Labels: map[string]string{"team": "shop"}})
	spec := e.spec(svc, "v1")
	inst, err := e.rt.Start(e.ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if inst.Addr != "127.0.0.1:"+itoa(spec.Port) || inst.ContainerID == "" || inst.Runtime != "docker" ||
		inst.ID != spec.InstanceID || inst.Service != svc.Name || inst.Version != "v1" || inst.Port != spec.Port {
		t.Errorf("instance = %+v", inst)
	}

	// The app reads PORT and CUTOVER_VERSION set by the runtime.
	if body := waitHTTP(t, inst.Addr, "/"); !strings.Contains(body, `"version":"v1"`) {
		t.Errorf("GET / = %s, want version v1", body)
	}
	st, err := e.rt.Inspect(e.ctx, inst)
	if err != nil || !st.Running || st.Detail != "running" {
		t.Errorf("Inspect = %+v, %v", st, err)
	}
	e.waitHealth(inst, HealthHealthy)

	info, err := e.cli.ContainerInspect(e.ctx, inst.ContainerID)
	if err != nil {
		t.Fatal(err)
	}
	if want := "/" + containerName(svc.Name, "v1", inst.ID); info.Name != want {
		t.Errorf("container name = %q, want %q", info.Name, want)
	}
	labels := info.Config.Labels
	for k, v := range map[string]string{"team": "shop", LabelService: svc.Name, LabelVersion: "v1",
		LabelInstance: inst.ID, LabelOwner: e.owner, LabelPort: itoa(inst.Port)} {
		if labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, labels[k], v)
		}
	}
	if info.HostConfig.NetworkMode != "host" {
		t.Errorf("network mode = %q", info.HostConfig.NetworkMode)
	}

	logs, err := e.rt.LogTail(e.ctx, inst, 10)
	if err != nil || !strings.Contains(logs, "listening on 127.0.0.1:"+itoa(inst.Port)) {
		t.Errorf("LogTail = %q, %v", logs, err)
	}

	e.stop(inst)
	if err := e.rt.Stop(e.ctx, inst, 0); err != nil {
		t.Errorf("second Stop = %v, want nil for a gone container", err)
	}
	if _, err := e.rt.LogTail(e.ctx, inst, 10); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("LogTail after Stop = %v, want ErrNotFound", err)
	}
	if _, err := e.rt.DockerHealth(e.ctx, inst); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("DockerHealth after Stop = %v, want ErrNotFound", err)
	}
}

func TestStartBridgeNetwork(t *testing.T) {
	e := newTestEnv(t)
	svc := e.service(config.Docker{Network: "bridge", ContainerPort: 8080, Command: []string{"--addr=0.0.0.0"}})
	inst := e.start(svc, "v2")

	if body := waitHTTP(t, inst.Addr, "/"); !strings.Contains(body, `"version":"v2"`) || !strings.Contains(body, `"port":8080`) {
		t.Errorf("GET / = %s, want version v2 served on container port 8080", body)
	}
	info, err := e.cli.ContainerInspect(e.ctx, inst.ContainerID)
	if err != nil {
		t.Fatal(err)
	}
	b := info.HostConfig.PortBindings["8080/tcp"]
	if len(b) != 1 || b[0].HostIP != "127.0.0.1" || b[0].HostPort != itoa(inst.Port) {
		t.Errorf("port bindings = %+v, want 127.0.0.1:%d", info.HostConfig.PortBindings, inst.Port)
	}
	e.stop(inst)
}

func TestStartExitImmediately(t *testing.T) {
	e := newTestEnv(t)
	svc := e.service(config.Docker{Network: "host", Command: []string{"--exit-immediately"}})
	inst := e.start(svc, "v1")

	st := e.waitExited(inst)
	if st.ExitCode != 3 || st.Detail != "exited with code 3" || st.OOMKilled {
		t.Errorf("state = %+v, want exit code 3", st)
	}
	logs, err := e.rt.LogTail(e.ctx, inst, 5)
	if err != nil || !strings.Contains(logs, "--exit-immediately") {
		t.Errorf("LogTail = %q, %v; want the reason", logs, err)
	}
	e.stop(inst)
}

func TestStartLimits(t *testing.T) {
	e := newTestEnv(t)
	svc := e.service(config.Docker{Network: "host", Memory: "64m", CPUs: 0.5, StopSignal: "SIGINT"})
	inst := e.start(svc, "v1")
	info, err := e.cli.ContainerInspect(e.ctx, inst.ContainerID)
	if err != nil {
		t.Fatal(err)
	}
	if info.HostConfig.Memory != 64<<20 || info.HostConfig.NanoCPUs != 500_000_000 || info.Config.StopSignal != "SIGINT" {
		t.Errorf("memory %d, nano cpus %d, stop signal %q", info.HostConfig.Memory, info.HostConfig.NanoCPUs, info.Config.StopSignal)
	}
	e.stop(inst)
}

func TestStartPullNeverMissingImage(t *testing.T) {
	e := newTestEnv(t)
	svc := e.service(config.Docker{Image: e.repo + "-missing:{{.Version}}", Pull: "never"})
	_, err := e.rt.Start(e.ctx, e.spec(svc, "v9"))
	image := e.repo + "-missing:v9"
	if !errors.Is(err, ErrImageNotFound) || !strings.Contains(err.Error(), image) || !strings.Contains(err.Error(), "docker build") {
		t.Fatalf("Start = %v, want ErrImageNotFound naming %s and docker build", err, image)
	}
	assertNoContainers(t, e)
}

func TestStartPullFailure(t *testing.T) {
	e := newTestEnv(t)
	// A registry on a closed loopback port fails at once, without network.
	svc := e.service(config.Docker{Image: "127.0.0.1:1/nothing:{{.Version}}", Pull: "missing"})
	_, err := e.rt.Start(e.ctx, e.spec(svc, "v1"))
	if !errors.Is(err, ErrPull) || !strings.Contains(err.Error(), "127.0.0.1:1/nothing:v1") {
		t.Fatalf("Start = %v, want ErrPull naming the image", err)
	}
	assertNoContainers(t, e)
}

func TestStartFailureLeavesNothing(t *testing.T) {
	e := newTestEnv(t)
	svc := e.service(config.Docker{Network: "bridge", Command: []string{"--addr=0.0.0.0"}})
	first := e.start(svc, "v1")
	spec := e.spec(svc, "v2")
	spec.Port = first.Port // already published by the first container
	if _, err := e.rt.Start(e.ctx, spec); err == nil {
		t.Fatal("Start on a taken port succeeded")
	}
	list, err := e.rt.List(e.ctx)
	if err != nil || len(list) != 1 || list[0].ID != first.ID {
		t.Fatalf("List = %+v, %v; want only the first instance", list, err)
	}
	e.stop(first)
}

func assertNoContainers(t *testing.T, e *testEnv) {
	t.Helper()
	list, err := e.rt.List(e.ctx)
	if err != nil || len(list) != 0 {
		t.Fatalf("List = %+v, %v; want nothing left", list, err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
