package process

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/runtime"
)

// OwnerEnv is the environment variable that marks an instance's process
// with the Owner of the Runtime that started it.
const OwnerEnv = "CUTOVER_OWNER"

// clockTicks is the kernel's USER_HZ, the unit of start times in /proc; it
// is 100 on every architecture Linux supports today.
const clockTicks = 100

// List returns the running instances whose process carries this Runtime's
// Owner mark, found by reading /proc, so that a restarted cutover can stop
// instances it started but never recorded. It returns nil, nil when Owner
// is empty. Only process group leaders count (an instance's children
// inherit its environment but not its group), and a process that rewrote
// its environment block (as some process-title libraries do) is not found.
// Listed instances carry ID, Service, Version, Runtime, Port, PID,
// PIDStart, LogPath and StartedAt; Addr is left empty.
func (r *Runtime) List(ctx context.Context) ([]runtime.Instance, error) {
	if r.opts.Owner == "" {
		return nil, nil
	}
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, err
	}
	boot := bootTime()
	byID := make(map[string]runtime.Instance)
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		inst, ok := r.listed(pid, boot)
		if !ok {
			continue
		}
		if prev, dup := byID[inst.ID]; dup && prev.PIDStart <= inst.PIDStart {
			continue
		}
		byID[inst.ID] = inst
	}
	list := make([]runtime.Instance, 0, len(byID))
	for _, inst := range byID {
		list = append(list, inst)
	}
	return list, nil
}

// listed returns the instance that pid is, if it leads its process group,
// runs, and carries this Runtime's Owner mark.
func (r *Runtime) listed(pid int, boot time.Time) (runtime.Instance, bool) {
	st, err := readProcStat(pid)
	if err != nil || st.pgrp != pid || st.state == 'Z' {
		return runtime.Instance{}, false
	}
	env, err := readEnviron(pid)
	if err != nil || env[OwnerEnv] != r.opts.Owner || env["CUTOVER_INSTANCE"] == "" {
		return runtime.Instance{}, false
	}
	port, _ := strconv.Atoi(env["PORT"])
	inst := runtime.Instance{
		ID:       env["CUTOVER_INSTANCE"],
		Service:  env["CUTOVER_SERVICE"],
		Version:  env["CUTOVER_VERSION"],
		Runtime:  config.RuntimeProcess,
		Port:     port,
		PID:      pid,
		PIDStart: st.start,
	}
	if !boot.IsZero() {
		inst.StartedAt = boot.Add(time.Duration(st.start) * time.Second / clockTicks)
	}
	if p, err := os.Readlink(procRoot + "/" + strconv.Itoa(pid) + "/fd/1"); err == nil && strings.HasPrefix(p, "/") {
		inst.LogPath = strings.TrimSuffix(p, " (deleted)")
	}
	return inst, true
}

// readEnviron reads the environment pid was started with.
func readEnviron(pid int) (map[string]string, error) {
	b, err := os.ReadFile(procRoot + "/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return nil, err
	}
	env := make(map[string]string)
	for kv := range bytes.SplitSeq(b, []byte{0}) {
		if k, v, ok := bytes.Cut(kv, []byte{'='}); ok {
			env[string(k)] = string(v)
		}
	}
	return env, nil
}

// bootTime returns when the system booted, or the zero time if unknown.
func bootTime() time.Time {
	f, err := os.Open(procRoot + "/stat")
	if err != nil {
		return time.Time{}
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "btime "); ok {
			if sec, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
				return time.Unix(sec, 0)
			}
		}
	}
	return time.Time{}
}
