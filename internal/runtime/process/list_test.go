package process

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/runtime"
)

func TestListFindsOwnInstances(t *testing.T) {
	owner := fmt.Sprintf("test-%d", time.Now().UnixNano())
	r := newRuntime(t, Options{Owner: owner})
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	// The child inherits the owner mark but is not a group leader.
	a := shellSpec("web", `sh -c 'echo $$ > "$PIDFILE"; exec sleep 60' & exec sleep 60`, map[string]string{"PIDFILE": pidFile})
	a.Port = 9001
	instA := start(t, r, a)
	b := shellSpec("api", "exec sleep 60", nil)
	instB := start(t, r, b)
	readPIDFile(t, pidFile)

	fresh := newRuntime(t, Options{Owner: owner})
	list, err := fresh.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(list, func(x, y runtime.Instance) int { return x.PID - y.PID })
	if len(list) != 2 {
		t.Fatalf("List = %+v, want the two instances", list)
	}
	for _, want := range []runtime.Instance{instA, instB} {
		i := slices.IndexFunc(list, func(in runtime.Instance) bool { return in.ID == want.ID })
		if i < 0 {
			t.Fatalf("List lacks %s", want.ID)
		}
		got := list[i]
		if got.PID != want.PID || got.PIDStart != want.PIDStart || got.Service != want.Service ||
			got.Version != want.Version || got.Port != want.Port || got.LogPath != want.LogPath || got.Runtime != "process" {
			t.Errorf("listed %+v, want %+v", got, want)
		}
		if d := got.StartedAt.Sub(want.StartedAt).Abs(); d > 5*time.Second {
			t.Errorf("listed start time %s off by %s", got.StartedAt, d)
		}
	}
	if err := fresh.Stop(context.Background(), list[0], time.Second); err != nil {
		t.Fatal(err)
	}
	if !processGone(list[0].PID) {
		t.Fatal("listed instance survived Stop")
	}

	other := newRuntime(t, Options{Owner: owner + "-other"})
	if l, err := other.List(context.Background()); err != nil || len(l) != 0 {
		t.Fatalf("List for another owner = %+v, %v; want none", l, err)
	}
	if l, err := newRuntime(t, Options{}).List(context.Background()); l != nil || err != nil {
		t.Fatalf("List without owner = %+v, %v; want nil, nil", l, err)
	}
}
