package docker

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/dockertest"
	"github.com/cutover-dev/cutover/internal/runtime"
	"github.com/cutover-dev/cutover/internal/runtime/docker/engine"
)

func TestList(t *testing.T) {
	e := newTestEnv(t)
	running := e.start(e.service(config.Docker{Network: "host"}), "v1")
	exited := e.start(e.service(config.Docker{Network: "host", Command: []string{"--exit-immediately"}}), "v2")

	// A container of another cutover on the same engine must not be listed.
	other := e.newRuntime(e.owner + "-other")
	dockertest.RemoveContainers(t, e.cli, LabelOwner+"="+e.owner+"-other")
	foreign, err := other.Start(e.ctx, e.spec(e.service(config.Docker{Network: "host"}), "v1"))
	if err != nil {
		t.Fatal(err)
	}
	e.waitExited(exited)

	list, err := e.rt.List(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(list, func(a, b runtime.Instance) int { return strings.Compare(a.Version, b.Version) })
	if len(list) != 2 {
		t.Fatalf("List = %+v, want the 2 instances of this owner", list)
	}
	for i, want := range []runtime.Instance{running, exited} {
		got := list[i]
		if got.ID != want.ID || got.Service != want.Service || got.Version != want.Version || got.Runtime != "docker" ||
			got.Addr != want.Addr || got.Port != want.Port || got.ContainerID != want.ContainerID {
			t.Errorf("List[%d] = %+v, want %+v", i, got, want)
		}
		// List reports the container's creation time (whole seconds), which
		// comes before Start returned; how long before depends on the engine.
		if got.StartedAt.After(want.StartedAt) || want.StartedAt.Sub(got.StartedAt) > time.Minute {
			t.Errorf("List[%d].StartedAt = %v, want the creation time, shortly before %v", i, got.StartedAt, want.StartedAt)
		}
	}
	otherList, err := other.List(e.ctx)
	if err != nil || len(otherList) != 1 || otherList[0].ContainerID != foreign.ContainerID {
		t.Errorf("other owner's List = %+v, %v", otherList, err)
	}

	for _, inst := range list {
		e.stop(inst)
	}
	if list, err := e.rt.List(e.ctx); err != nil || len(list) != 0 {
		t.Errorf("List after Stop = %+v, %v", list, err)
	}
}

func TestIsReference(t *testing.T) {
	const id = "sha256:d569b06ca658aa"
	tests := []struct {
		image string
		want  bool
	}{
		{"shop/api:v1", true},
		{"d569b06ca658", false},
		{id, false},
		{"", false},
	}
	for _, tt := range tests {
		if got := isReference(engine.ContainerSummary{Image: tt.image, ImageID: id}); got != tt.want {
			t.Errorf("isReference(%q) = %v, want %v", tt.image, got, tt.want)
		}
	}
}
