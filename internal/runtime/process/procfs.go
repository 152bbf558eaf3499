package process

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"syscall"
)

// procRoot is where the proc filesystem is mounted.
const procRoot = "/proc"

// procKey identifies one process over time: a PID and its start time.
type procKey struct {
	pid   int
	start uint64
}

// procStat holds the fields of /proc/<pid>/stat that the runtime uses.
type procStat struct {
	// state is the one-letter state; 'Z' is a zombie.
	state byte
	ppid  int
	pgrp  int
	// start is the start time in clock ticks since boot (field 22).
	start uint64
}

// errMalformedStat reports /proc/<pid>/stat contents that do not parse.
var errMalformedStat = errors.New("malformed /proc stat")

// readProcStat reads /proc/<pid>/stat. A missing process yields an error
// matching fs.ErrNotExist.
func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile(procRoot + "/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
			return procStat{}, fmt.Errorf("pid %d: %w", pid, fs.ErrNotExist)
		}
		return procStat{}, err
	}
	return parseProcStat(b)
}

// parseProcStat parses the contents of /proc/<pid>/stat. The command name
// (field 2) is in parentheses and may itself hold spaces and parentheses,
// so fields are counted from the last ')'.
func parseProcStat(b []byte) (procStat, error) {
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return procStat{}, fmt.Errorf("%w: no command name", errMalformedStat)
	}
	// Fields after the command name start with field 3 (state).
	f := bytes.Fields(b[end+1:])
	const (
		fState = 3 - 3
		fPPID  = 4 - 3
		fPGRP  = 5 - 3
		fStart = 22 - 3
	)
	if len(f) <= fStart || len(f[fState]) != 1 {
		return procStat{}, fmt.Errorf("%w: %d fields after the command name", errMalformedStat, len(f))
	}
	ppid, err1 := strconv.Atoi(string(f[fPPID]))
	pgrp, err2 := strconv.Atoi(string(f[fPGRP]))
	start, err3 := strconv.ParseUint(string(f[fStart]), 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return procStat{}, fmt.Errorf("%w: %v", errMalformedStat, err)
	}
	return procStat{state: f[fState][0], ppid: ppid, pgrp: pgrp, start: start}, nil
}

// groupMembers returns the PIDs of the live (not zombie) processes whose
// process group is pgid.
func groupMembers(pgid int) ([]int, error) {
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readProcStat(pid)
		if err != nil {
			continue // gone meanwhile, or a kernel thread we cannot read
		}
		if st.pgrp == pgid && st.state != 'Z' {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}
