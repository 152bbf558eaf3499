package process

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/cutover-dev/cutover/internal/runtime"
)

// Inspect reports whether inst is running. For a process this Runtime
// started and saw exit, it returns Running false with the exit code and a
// detail such as "exited with code 3" or "killed by SIGKILL". For other
// processes it reads /proc: ErrNotFound when the PID is gone or now belongs
// to a process with another start time, Running false when it is a zombie.
// A running instance from an earlier run is adopted: its log is kept under
// the default cap from then on.
func (r *Runtime) Inspect(ctx context.Context, inst runtime.Instance) (runtime.State, error) {
	if inst.PID <= 0 {
		return runtime.State{}, fmt.Errorf("instance %s has no pid: %w", inst.ID, runtime.ErrNotFound)
	}
	if c := r.child(inst); c != nil {
		if c.exited() {
			return c.state, nil
		}
		return runtime.State{Running: true}, nil
	}
	st, err := readProcStat(inst.PID)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && st.start != inst.PIDStart) {
		return runtime.State{}, fmt.Errorf("instance %s pid %d: %w", inst.ID, inst.PID, runtime.ErrNotFound)
	}
	if err != nil {
		return runtime.State{}, fmt.Errorf("inspect instance %s: %w", inst.ID, err)
	}
	if st.state == 'Z' {
		return runtime.State{ExitCode: -1, Detail: "exited (not yet reaped)"}, nil
	}
	r.adoptLog(inst)
	return runtime.State{Running: true}, nil
}

// alive reports whether the process identified by key is running: not
// reaped if this Runtime started it, otherwise present in /proc with the
// same start time and not a zombie.
func (r *Runtime) alive(key procKey, own *child) bool {
	if own != nil {
		return !own.exited()
	}
	st, err := readProcStat(key.pid)
	return err == nil && st.start == key.start && st.state != 'Z'
}
