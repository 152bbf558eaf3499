package process

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestCapLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.log")
	var b strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&b, "line %04d\n", i) // 10 bytes a line
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if kept, err := capLog(path, 20000); err != nil || kept != -1 {
		t.Fatalf("capLog under the cap = %d, %v; want untouched", kept, err)
	}
	kept, err := capLog(path, 2000)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(data)) != kept || kept > 2000 {
		t.Fatalf("kept %d bytes, file has %d, cap 2000", kept, len(data))
	}
	note, rest, _ := strings.Cut(string(data), "\n")
	if !strings.HasPrefix(note, "[cutover: log exceeded 2000 bytes") {
		t.Fatalf("first line %q, want the truncation note", note)
	}
	lines := strings.Split(strings.TrimSuffix(rest, "\n"), "\n")
	if len(lines) != 100 || lines[0] != "line 0900" || lines[99] != "line 0999" {
		t.Fatalf("kept %d lines %q..%q, want line 0900..line 0999", len(lines), lines[0], lines[len(lines)-1])
	}
}

func TestLogCapEnforcedOnLiveInstance(t *testing.T) {
	const maxBytes = 16 << 10
	r := newRuntime(t, Options{LogCheckInterval: 10 * time.Millisecond})
	spec := shellSpec("chatty", `seq 1 30000 | sed 's/^/line /'; echo done-writing; exec sleep 60`, nil)
	spec.Service.Process.LogMaxBytes = maxBytes
	inst := start(t, r, spec)

	eventually(t, "the log to be capped after the output ends", func() bool {
		fi, err := os.Stat(inst.LogPath)
		tail, _ := r.LogTail(context.Background(), inst, 1)
		return err == nil && fi.Size() <= maxBytes && tail == "done-writing\n"
	})
	data, err := os.ReadFile(inst.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if !strings.HasPrefix(lines[0], "[cutover: log exceeded") {
		t.Fatalf("first line %q, want the truncation note", lines[0])
	}
	// The kept lines are a whole, gap-free run ending at the last one.
	for i, l := range lines[1 : len(lines)-2] {
		n, err := strconv.Atoi(strings.TrimPrefix(l, "line "))
		next, err2 := strconv.Atoi(strings.TrimPrefix(lines[i+2], "line "))
		if err != nil || err2 != nil || next != n+1 {
			t.Fatalf("lines %q then %q: not a gap-free run", l, lines[i+2])
		}
	}
	if lines[len(lines)-2] != "line 30000" {
		t.Fatalf("last output line %q, want line 30000", lines[len(lines)-2])
	}
}

func TestJanitorForgetsExitedInstances(t *testing.T) {
	r := newRuntime(t, Options{LogCheckInterval: 10 * time.Millisecond})
	inst := start(t, r, shellSpec("job", "exit 0", nil))
	eventually(t, "the janitor to drop the exited instance", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		_, ok := r.logs[inst.ID]
		return !ok
	})
}
