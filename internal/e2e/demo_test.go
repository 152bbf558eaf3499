package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDemo runs `cutover demo` as the README tells a new user to: it must
// finish by itself within a minute, report zero failed requests, and leave
// no process behind.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "demo")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("cutover demo: %v\n%s", err, out.String())
	}
	took := time.Since(start)
	text := out.String()
	for _, want := range []string{"Zero failed requests.", "served by v1", "served by v2", "served by v3", "rolled back to v2"} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q:\n%s", want, text)
		}
	}
	if took > time.Minute {
		t.Errorf("the demo took %s, want under a minute", took)
	}
	if left := processesOf(bin); len(left) > 0 {
		t.Errorf("the demo left processes behind: %v", left)
	}
}

// processesOf lists live processes running the executable path.
func processesOf(path string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", ent.Name(), "exe"))
		if err != nil || exe != path {
			continue
		}
		if stat, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "stat")); err == nil {
			s := string(stat)
			if i := strings.LastIndexByte(s, ')'); i > 0 && strings.HasPrefix(s[i+1:], " Z") {
				continue
			}
		}
		pids = append(pids, pid)
	}
	return pids
}
