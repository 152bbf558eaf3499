package demo

import (
	"os/exec"
	"syscall"
)

// setDeathSignal has the kernel kill cmd if the demo dies first.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
