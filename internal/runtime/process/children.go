package process

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"github.com/cutover-dev/cutover/internal/runtime"
)

// child is a process this Runtime started. Its fields other than done are
// written once, before done is closed.
type child struct {
	// done is closed once the process has exited and been reaped.
	done chan struct{}
	// state is the exit state, valid after done is closed.
	state runtime.State
}

// exited reports whether the child has exited and been reaped.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// reap waits for cmd to exit and records its state. It runs in its own
// goroutine per child and ends when the child does.
func (r *Runtime) reap(cmd *exec.Cmd, c *child, inst runtime.Instance) {
	cmd.Wait()
	c.state = exitState(cmd.ProcessState)
	close(c.done)
	r.log.Info("instance exited",
		"service", inst.Service, "version", inst.Version, "instance", inst.ID,
		"pid", inst.PID, "detail", c.state.Detail)
	if r.opts.OnExit != nil {
		r.opts.OnExit(inst, c.state)
	}
}

// child returns the child of inst if this Runtime started it.
func (r *Runtime) child(inst runtime.Instance) *child {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.children[procKey{inst.PID, inst.PIDStart}]
}

// exitState describes how a process ended.
func exitState(ps *os.ProcessState) runtime.State {
	st := runtime.State{ExitCode: -1, Detail: "exited"}
	if ps == nil {
		return st
	}
	ws, ok := ps.Sys().(syscall.WaitStatus)
	switch {
	case !ok:
		st.ExitCode = ps.ExitCode()
		st.Detail = fmt.Sprintf("exited with code %d", st.ExitCode)
	case ws.Exited():
		st.ExitCode = ws.ExitStatus()
		st.Detail = fmt.Sprintf("exited with code %d", st.ExitCode)
	case ws.Signaled():
		st.Detail = "killed by " + signalName(ws.Signal())
	}
	return st
}

// signalNames are the names of the signals an instance commonly dies of.
var signalNames = map[syscall.Signal]string{
	syscall.SIGABRT: "SIGABRT",
	syscall.SIGBUS:  "SIGBUS",
	syscall.SIGHUP:  "SIGHUP",
	syscall.SIGINT:  "SIGINT",
	syscall.SIGKILL: "SIGKILL",
	syscall.SIGPIPE: "SIGPIPE",
	syscall.SIGQUIT: "SIGQUIT",
	syscall.SIGSEGV: "SIGSEGV",
	syscall.SIGTERM: "SIGTERM",
	syscall.SIGUSR1: "SIGUSR1",
	syscall.SIGUSR2: "SIGUSR2",
}

// signalName returns "SIGKILL" for syscall.SIGKILL, "signal 7" for others.
func signalName(s syscall.Signal) string {
	if n, ok := signalNames[s]; ok {
		return n
	}
	return fmt.Sprintf("signal %d", int(s))
}
