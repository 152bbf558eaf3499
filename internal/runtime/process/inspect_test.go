package process

import (
	"context"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/runtime"
)

func TestInspectExitStatus(t *testing.T) {
	tests := []struct {
		script string
		code   int
		detail string
	}{
		{"exit 3", 3, "exited with code 3"},
		{"exit 0", 0, "exited with code 0"},
		{"kill -KILL $$", -1, "killed by SIGKILL"},
	}
	for _, tt := range tests {
		t.Run(tt.detail, func(t *testing.T) {
			r := newRuntime(t, Options{})
			inst := start(t, r, shellSpec("job", tt.script, nil))
			var st runtime.State
			eventually(t, "the process to exit", func() bool {
				var err error
				st, err = r.Inspect(context.Background(), inst)
				if err != nil {
					t.Fatal(err)
				}
				return !st.Running
			})
			if st.ExitCode != tt.code || st.Detail != tt.detail {
				t.Fatalf("state = %+v, want code %d detail %q", st, tt.code, tt.detail)
			}
			if !processGone(inst.PID) {
				t.Fatal("exited process still in /proc: not reaped")
			}
		})
	}
}

func TestInspectGuardsPIDReuse(t *testing.T) {
	r := newRuntime(t, Options{})
	inst := start(t, r, shellSpec("web", "exec sleep 60", nil))

	other := inst
	other.PIDStart++
	if _, err := r.Inspect(context.Background(), other); !isNotFound(err) {
		t.Fatalf("Inspect with another start time: %v, want ErrNotFound", err)
	}
	fresh := newRuntime(t, Options{})
	if _, err := fresh.Inspect(context.Background(), other); !isNotFound(err) {
		t.Fatalf("fresh Inspect with another start time: %v, want ErrNotFound", err)
	}
	if err := fresh.Stop(context.Background(), other, time.Second); err != nil {
		t.Fatalf("Stop of a reused pid: %v", err)
	}
	if err := r.Stop(context.Background(), other, time.Second); err != nil {
		t.Fatalf("Stop of a reused pid: %v", err)
	}
	if st, err := r.Inspect(context.Background(), inst); err != nil || !st.Running {
		t.Fatalf("real instance after stopping a lookalike: %+v, %v; want running", st, err)
	}
	if st, err := fresh.Inspect(context.Background(), inst); err != nil || !st.Running {
		t.Fatalf("fresh Inspect of the real instance: %+v, %v; want running", st, err)
	}
}

func TestInspectWithoutPID(t *testing.T) {
	r := newRuntime(t, Options{})
	if _, err := r.Inspect(context.Background(), runtime.Instance{ID: "x"}); !isNotFound(err) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	if err := r.Stop(context.Background(), runtime.Instance{ID: "x"}, time.Second); err != nil {
		t.Fatalf("Stop without pid: %v", err)
	}
	if r.Kind() != "process" {
		t.Fatalf("Kind = %q", r.Kind())
	}
}
