package process

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"time"

	"github.com/cutover-dev/cutover/internal/runtime"
)

// pollInterval is how often /proc is read while waiting for processes that
// cannot be waited for (adopted leaders and other group members).
const pollInterval = 20 * time.Millisecond

// killWait bounds waiting for a process group to vanish after SIGKILL.
const killWait = 5 * time.Second

// ErrStillAlive reports a process group that outlived SIGKILL, such as a
// process stuck in uninterruptible I/O.
var ErrStillAlive = errors.New("still alive")

// group is an instance's process group: its leader is the instance process.
type group struct {
	id   string
	lead procKey
	// own is set when this Runtime started the leader.
	own *child
}

// Stop sends SIGTERM to the instance's process group, waits up to grace for
// every member to exit (the leader's exit is an event for processes this
// Runtime started; other members are polled in /proc), then sends SIGKILL
// to the group, which also ends members that ignored SIGTERM, and returns
// once they are gone. If ctx ends first the group is killed at once and the
// context's error returned. Stopping an instance that is already gone, or
// whose PID now belongs to another process, is not an error and signals
// nothing.
func (r *Runtime) Stop(ctx context.Context, inst runtime.Instance, grace time.Duration) error {
	if inst.PID <= 0 {
		return nil
	}
	g := group{id: inst.ID, lead: procKey{inst.PID, inst.PIDStart}, own: r.child(inst)}
	if !r.groupAlive(g) {
		r.forget(inst)
		return nil
	}
	r.log.Info("stopping instance", "service", inst.Service, "instance", inst.ID, "pid", inst.PID, "signal", "SIGTERM", "grace", grace)
	r.signalGroup(g, syscall.SIGTERM)
	gone, err := r.waitGroupGone(ctx, g, grace)
	if gone {
		err = nil // the group ended on its own, whatever ctx did meanwhile
	} else {
		r.log.Warn("instance did not stop in time, killing its process group",
			"instance", inst.ID, "pid", inst.PID, "grace", grace)
		r.signalGroup(g, syscall.SIGKILL)
		gone, _ = r.waitGroupGone(context.Background(), g, killWait)
	}
	if !gone {
		return fmt.Errorf("stop instance %s: process group %d %w %s after SIGKILL", inst.ID, inst.PID, ErrStillAlive, killWait)
	}
	r.forget(inst)
	r.log.Info("instance stopped", "instance", inst.ID, "pid", inst.PID)
	if err != nil {
		return fmt.Errorf("stop instance %s: %w", inst.ID, err)
	}
	return nil
}

// waitGroupGone waits up to d for g to have no live member. It reports
// whether the group is gone, and ctx's error if ctx ended the wait.
func (r *Runtime) waitGroupGone(ctx context.Context, g group, d time.Duration) (bool, error) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	if g.own != nil {
		select {
		case <-g.own.done:
		case <-timer.C:
			return !r.groupAlive(g), nil
		case <-ctx.Done():
			return !r.groupAlive(g), ctx.Err()
		}
	}
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		if !r.groupAlive(g) {
			return true, nil
		}
		select {
		case <-tick.C:
		case <-timer.C:
			return !r.groupAlive(g), nil
		case <-ctx.Done():
			return !r.groupAlive(g), ctx.Err()
		}
	}
}

// groupOurs reports whether processes in process group g.lead.pid belong
// to the instance: its leader still runs (or is an unreaped zombie), or its
// PID is free. A group outlives its leader, and Linux does not hand out a
// PID while it still names a process group, so members of a group whose
// leader's PID is free are the instance's leftovers. A PID now used by a
// process with another start time means the group is someone else's.
func (r *Runtime) groupOurs(g group) bool {
	if g.own != nil && !g.own.exited() {
		return true
	}
	st, err := readProcStat(g.lead.pid)
	if err == nil {
		return st.start == g.lead.start
	}
	return errors.Is(err, fs.ErrNotExist)
}

// groupAlive reports whether g is ours and has a live member.
func (r *Runtime) groupAlive(g group) bool {
	if !r.groupOurs(g) {
		return false
	}
	if r.alive(g.lead, g.own) {
		return true
	}
	members, err := groupMembers(g.lead.pid)
	if err != nil {
		r.log.Warn("listing process group failed", "instance", g.id, "pgid", g.lead.pid, "err", err)
		return false
	}
	return len(members) > 0
}

// signalGroup sends sig to every member of g, if g is still ours.
func (r *Runtime) signalGroup(g group, sig syscall.Signal) {
	if !r.groupOurs(g) {
		return
	}
	if err := syscall.Kill(-g.lead.pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		r.log.Warn("signalling process group failed",
			"instance", g.id, "pgid", g.lead.pid, "signal", signalName(sig), "err", err)
	}
}

// forget drops what the Runtime keeps about a stopped instance.
func (r *Runtime) forget(inst runtime.Instance) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.children, procKey{inst.PID, inst.PIDStart})
	if e, ok := r.logs[inst.ID]; ok && e.key == (procKey{inst.PID, inst.PIDStart}) {
		delete(r.logs, inst.ID)
	}
}
