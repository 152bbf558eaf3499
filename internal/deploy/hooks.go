package deploy

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// hookEnv is what a hook learns about the deploy.
type hookEnv struct {
	version, previous string
	port              int
}

// runHook runs one configured hook command with sh -c. An empty command is
// a no-op. The error includes the command's last output lines.
func (s *service) runHook(ctx context.Context, op *opRun, name, command string, env hookEnv) error {
	if strings.TrimSpace(command) == "" {
		return nil
	}
	sc := s.config()
	timeout := sc.Hooks.Timeout.D()
	if timeout <= 0 {
		timeout = time.Minute
	}
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(hctx, "/bin/sh", "-c", command)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	cmd.Env = append(os.Environ(),
		"CUTOVER_HOOK="+name,
		"CUTOVER_SERVICE="+s.name,
		"CUTOVER_VERSION="+env.version,
		"CUTOVER_PREVIOUS_VERSION="+env.previous,
		"CUTOVER_PORT="+strconv.Itoa(env.port),
	)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	op.info("hook", "running %s hook", name)
	err := cmd.Run()
	op.timed("hook_"+name, start)
	if err != nil {
		if hctx.Err() == context.DeadlineExceeded {
			err = fmt.Errorf("timed out after %s", timeout)
		}
		return fmt.Errorf("%s hook failed: %v; output:\n%s", name, err, lastLines(out.String(), tailLines))
	}
	op.info("hook", "%s hook succeeded in %s", name, time.Since(start).Round(time.Millisecond))
	return nil
}

func lastLines(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
