package process

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/runtime"
	"github.com/cutover-dev/cutover/internal/testutil"
)

// readPIDFile waits for path to hold a pid and returns it.
func readPIDFile(t *testing.T, path string) int {
	t.Helper()
	var pid int
	eventually(t, path+" to hold a pid", func() bool {
		b, err := os.ReadFile(path)
		if err != nil || !strings.HasSuffix(string(b), "\n") {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil
	})
	return pid
}

func TestStopKillsWholeGroup(t *testing.T) {
	// The grandchild ignores SIGTERM in every case and must be killed.
	const grandchild = `sh -c 'trap "" TERM; echo $$ > "$PIDFILE"; while :; do sleep 0.05; done' &`
	tests := []struct {
		name   string
		leader string
		// termLine is what the leader logs when SIGTERM reaches it.
		termLine string
	}{
		{"leader ignores TERM", `trap '' TERM; ` + grandchild + ` while :; do sleep 0.05; done`, ""},
		{"leader exits on TERM", `trap 'echo leader got TERM; exit 0' TERM; ` + grandchild + ` while :; do sleep 0.05; done`, "leader got TERM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRuntime(t, Options{})
			pidFile := filepath.Join(t.TempDir(), "grandchild.pid")
			inst := start(t, r, shellSpec("web", tt.leader, map[string]string{"PIDFILE": pidFile}))
			gc := readPIDFile(t, pidFile)
			if st, err := readProcStat(gc); err != nil || st.pgrp != inst.PID {
				t.Fatalf("grandchild %d: %+v %v, want it in group %d", gc, st, err, inst.PID)
			}

			if err := r.Stop(context.Background(), inst, 300*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			if members, err := groupMembers(inst.PID); err != nil || len(members) != 0 {
				t.Fatalf("group %d members after Stop: %v %v", inst.PID, members, err)
			}
			if !processGone(gc) || !processGone(inst.PID) {
				t.Fatal("a process of the group survived Stop")
			}
			if tt.termLine != "" {
				if tail, _ := r.LogTail(context.Background(), inst, 5); !strings.Contains(tail, tt.termLine) {
					t.Fatalf("log %q lacks %q: SIGTERM did not come first", tail, tt.termLine)
				}
			}
			if err := r.Stop(context.Background(), inst, time.Second); err != nil {
				t.Fatalf("second Stop: %v", err)
			}
		})
	}
}

func TestStopContextCancelledKills(t *testing.T) {
	r := newRuntime(t, Options{})
	inst := start(t, r, shellSpec("web", `trap '' TERM; while :; do sleep 0.05; done`, nil))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := r.Stop(ctx, inst, time.Hour)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if !processGone(inst.PID) {
		t.Fatal("instance survived a cancelled Stop")
	}
}

// TestInstanceSurvivesParent starts an instance from a helper process that
// exits at once, then adopts and stops it from a fresh Runtime, as a
// restarted cutover would.
func TestInstanceSurvivesParent(t *testing.T) {
	logDir := t.TempDir()
	port := testutil.FreePort(t)
	helper := exec.Command(self(), logDir, strconv.Itoa(port))
	helper.Env = append(os.Environ(), helperEnv+"=start-instance")
	helper.Stderr = os.Stderr
	// Output returns only when the helper's stdout is closed by everyone:
	// an instance holding it would hang the test here.
	out, err := helper.Output()
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	var inst runtime.Instance
	if err := json.Unmarshal(out, &inst); err != nil {
		t.Fatalf("helper output %q: %v", out, err)
	}
	r := newRuntime(t, Options{LogDir: logDir})
	t.Cleanup(func() { r.Stop(context.Background(), inst, 0) })

	waitServing(t, inst.Addr)
	st, err := readProcStat(inst.PID)
	if err != nil {
		t.Fatal(err)
	}
	if st.ppid == helper.Process.Pid {
		t.Fatalf("instance still parented by the exited helper")
	}
	if state, err := r.Inspect(context.Background(), inst); err != nil || !state.Running {
		t.Fatalf("adopted Inspect = %+v, %v; want running", state, err)
	}
	if err := r.Stop(context.Background(), inst, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if !processGone(inst.PID) {
		t.Fatal("adopted instance survived Stop")
	}
	if tail, _ := r.LogTail(context.Background(), inst, 1); !strings.Contains(tail, "shutting down") {
		t.Fatalf("last log line %q, want a graceful shutdown", tail)
	}
	// The instance's new parent reaps it in its own time; until then it is
	// a zombie, which is not running either.
	if st, err := r.Inspect(context.Background(), inst); !isNotFound(err) && (err != nil || st.Running) {
		t.Fatalf("Inspect after Stop = %+v, %v; want ErrNotFound or not running", st, err)
	}
}
