package engine_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/dockertest"
	"github.com/cutover-dev/cutover/internal/runtime/docker/engine"
)

func TestMain(m *testing.M) { os.Exit(dockertest.Main(m)) }

// TestContainerLifecycle drives one container through the calls the docker
// runtime uses, against the real engine.
func TestContainerLifecycle(t *testing.T) {
	cli := dockertest.RequireDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := cli.Version(ctx)
	if err != nil || v.APIVersion == "" {
		t.Fatalf("Version = %+v, %v", v, err)
	}
	image := "cutover-test-" + dockertest.RunID() + "/engine:v1"
	dockertest.BuildSampleImage(t, image)
	label := dockertest.LabelKey + "=" + dockertest.RunID() + "-engine"
	dockertest.RemoveContainers(t, cli, label)

	key, value, _ := strings.Cut(label, "=")
	id, _, err := cli.ContainerCreate(ctx, "", engine.ContainerConfig{
		Image:      image,
		Cmd:        []string{"--exit-immediately"},
		Labels:     map[string]string{key: value},
		HostConfig: engine.HostConfig{NetworkMode: "none", RestartPolicy: engine.RestartPolicy{Name: "no"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	list, err := cli.ContainerList(ctx, engine.ListOptions{All: true, Labels: []string{label}})
	if err != nil || len(list) != 1 || list[0].ID != id || list[0].State != "created" {
		t.Fatalf("ContainerList = %+v, %v", list, err)
	}
	if err := cli.ContainerStart(ctx, id); err != nil {
		t.Fatal(err)
	}
	var info engine.ContainerInfo
	for info.State.Status != "exited" {
		if info, err = cli.ContainerInspect(ctx, id); err != nil {
			t.Fatal(err)
		}
		if ctx.Err() != nil {
			t.Fatalf("container never exited: %+v", info.State)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if info.State.ExitCode != 3 {
		t.Errorf("exit code = %d, want 3", info.State.ExitCode)
	}
	rc, err := cli.ContainerLogs(ctx, id, 10)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	err = engine.Demultiplex(&stdout, &stderr, rc)
	rc.Close()
	if err != nil || !strings.Contains(stderr.String(), "--exit-immediately") || stdout.Len() != 0 {
		t.Errorf("logs: stdout %q, stderr %q, %v", stdout.String(), stderr.String(), err)
	}
	if err := cli.ContainerStop(ctx, id, time.Second); err != nil {
		t.Errorf("stopping a stopped container: %v", err)
	}
	if err := cli.ContainerRemove(ctx, id, engine.RemoveOptions{Volumes: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.ContainerInspect(ctx, id); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("inspect removed container: %v, want ErrNotFound", err)
	}
	if err := cli.ContainerRemove(ctx, id, engine.RemoveOptions{}); !engine.IsGone(err) {
		t.Errorf("second remove: %v, want IsGone", err)
	}
}

func TestImageNotFound(t *testing.T) {
	cli := dockertest.RequireDocker(t)
	_, err := cli.ImageInspect(context.Background(), "cutover-test-"+dockertest.RunID()+"/absent:v1")
	if !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("ImageInspect = %v, want ErrNotFound", err)
	}
}
