package process

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/runtime"
)

// Start launches one instance of spec.Service.Process and returns as soon
// as the process exists. Command, Args, Dir and Env values are rendered as
// templates with .Version, .Port, .Service and .Instance; a template that
// fails yields ErrInvalidSpec naming the config field. The environment is
// cutover's own without its CUTOVER_* variables, plus PORT,
// CUTOVER_VERSION, CUTOVER_SERVICE, CUTOVER_INSTANCE, CUTOVER_OWNER (when
// Options.Owner is set) and the configured variables, which win. The process leads its own process group, so
// signals sent to cutover's group do not reach it, and it is not tied to
// cutover's lifetime. Its output is appended to its log file; the file, but
// not the process, is left behind when Start fails after creating it.
func (r *Runtime) Start(ctx context.Context, spec runtime.StartSpec) (runtime.Instance, error) {
	if err := ctx.Err(); err != nil {
		return runtime.Instance{}, err
	}
	if r.closed() {
		return runtime.Instance{}, ErrClosed
	}
	if err := r.validate(spec); err != nil {
		return runtime.Instance{}, err
	}
	cl, err := renderCommand(spec, r.opts.Owner)
	if err != nil {
		return runtime.Instance{}, err
	}
	logPath := r.logPath(spec)
	logFile, err := openLog(logPath)
	if err != nil {
		return runtime.Instance{}, err
	}

	cmd := exec.Command(cl.command, cl.args...)
	cmd.Dir = cl.dir
	cmd.Env = cl.env
	cmd.Stdout = logFile // nil Stdin reads /dev/null
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	logFile.Close()
	if err != nil {
		os.Remove(logPath)
		return runtime.Instance{}, fmt.Errorf("start %s instance %s: %w", spec.Service.Name, spec.InstanceID, err)
	}
	pid := cmd.Process.Pid
	// The process cannot vanish before it is waited for, so its stat is readable.
	st, err := readProcStat(pid)
	if err != nil {
		syscall.Kill(-pid, syscall.SIGKILL)
		cmd.Wait()
		return runtime.Instance{}, fmt.Errorf("start %s instance %s: %w", spec.Service.Name, spec.InstanceID, err)
	}

	inst := runtime.Instance{
		ID:        spec.InstanceID,
		Service:   spec.Service.Name,
		Version:   spec.Version,
		Runtime:   config.RuntimeProcess,
		Addr:      net.JoinHostPort(dialHost(spec.Service.Host), strconv.Itoa(spec.Port)),
		Port:      spec.Port,
		PID:       pid,
		PIDStart:  st.start,
		LogPath:   logPath,
		StartedAt: time.Now(),
	}
	c := &child{done: make(chan struct{})}
	key := procKey{pid, st.start}
	maxBytes := spec.Service.Process.LogMaxBytes
	if maxBytes <= 0 {
		maxBytes = r.opts.LogMaxBytes
	}
	maxBytes = max(maxBytes, MinLogMaxBytes)
	r.mu.Lock()
	r.children[key] = c
	r.logs[inst.ID] = logEntry{key: key, own: c, path: logPath, maxBytes: maxBytes}
	r.mu.Unlock()
	go r.reap(cmd, c, inst)

	r.log.Info("instance started",
		"service", inst.Service, "version", inst.Version, "instance", inst.ID,
		"pid", pid, "addr", inst.Addr, "log", logPath)
	return inst, nil
}

// validate checks what Start needs beyond the templates.
func (r *Runtime) validate(spec runtime.StartSpec) error {
	svc := spec.Service
	switch {
	case svc == nil:
		return fmt.Errorf("%w: no service given", ErrInvalidSpec)
	case svc.Process == nil:
		return fmt.Errorf("%w: services.%s has no process section; add process.command", ErrInvalidSpec, svc.Name)
	case !isPathElem(svc.Name):
		return fmt.Errorf("%w: service name %q cannot name a log directory", ErrInvalidSpec, svc.Name)
	case !isPathElem(spec.InstanceID):
		return fmt.Errorf("%w: instance id %q cannot name a log file", ErrInvalidSpec, spec.InstanceID)
	case spec.Port < 0 || spec.Port > 65535:
		return fmt.Errorf("%w: port %d out of range 0-65535", ErrInvalidSpec, spec.Port)
	case spec.LogDir == "" && r.opts.LogDir == "":
		return fmt.Errorf("%w: no log directory: set Options.LogDir or StartSpec.LogDir", ErrInvalidSpec)
	}
	return nil
}

// isPathElem reports whether s is usable as one file name.
func isPathElem(s string) bool {
	return s != "" && s != "." && s != ".." && filepath.Base(s) == s
}

// logPath returns <LogDir>/<service>/<instance>.log.
func (r *Runtime) logPath(spec runtime.StartSpec) string {
	dir := spec.LogDir
	if dir == "" {
		dir = r.opts.LogDir
	}
	return filepath.Join(dir, spec.Service.Name, spec.InstanceID+".log")
}

// openLog opens path for appending, creating it and its directory.
func openLog(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("instance log: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("instance log: %w", err)
	}
	return f, nil
}

// dialHost returns the address the proxy dials for an instance listening on
// host: loopback when the instance listens on every address.
func dialHost(host string) string {
	if host == "" {
		return runtime.DefaultHost
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		if ip.To4() != nil {
			return "127.0.0.1"
		}
		return "::1"
	}
	return host
}
