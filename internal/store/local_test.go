package store_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/store"
	"github.com/cutover-dev/cutover/internal/store/storetest"
)

func openLocal(t *testing.T, dir string) *store.Local {
	t.Helper()
	l, err := store.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func TestLocalContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openLocal(t, t.TempDir()) })
}

func TestLocalLoadSkipsCorruptFile(t *testing.T) {
	dir := t.TempDir()
	l := openLocal(t, dir)
	storetest.LoadSkipsCorrupt(t, l, func(name string) {
		path := filepath.Join(dir, "services", name+".json")
		if err := os.WriteFile(path, []byte(`{"name": "b", "generation": 1, "act`), 0o600); err != nil {
			t.Fatal(err)
		}
	})
}

func TestLocalFileNamedForAnotherService(t *testing.T) {
	dir := t.TempDir()
	l := openLocal(t, dir)
	ctx := context.Background()
	if err := l.Put(ctx, storetest.State("a", 1)); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "services", "a.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "services", "copy.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	states, bad, err := l.Load(ctx)
	if err != nil || len(states) != 1 || !errors.Is(bad["copy"], store.ErrCorrupt) {
		t.Errorf("Load = %d states, bad %v, %v; want a, and copy reported corrupt", len(states), bad, err)
	}
}

func TestLocalStateSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	l, err := store.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Put(ctx, storetest.State("web", 1)); err != nil {
		t.Fatal(err)
	}
	if err := l.AppendHistory(ctx, storetest.Record("web", 1)); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if _, err := l.Get(ctx, "web"); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Get after Close = %v, want ErrClosed", err)
	}
	if err := l.Put(ctx, storetest.State("web", 2)); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Put after Close = %v, want ErrClosed", err)
	}
	again := openLocal(t, dir)
	got, err := again.Get(ctx, "web")
	if err != nil || got.Generation != 1 {
		t.Fatalf("Get after reopen = gen %d, %v", got.Generation, err)
	}
	if recs, err := again.History(ctx, "web", 0); err != nil || len(recs) != 1 {
		t.Errorf("History after reopen = %d records, %v", len(recs), err)
	}
}

func TestLocalSecondOpenIsLocked(t *testing.T) {
	dir := t.TempDir()
	first, err := store.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = store.OpenLocal(dir)
	if !errors.Is(err, store.ErrLocked) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("second OpenLocal = %v, want ErrLocked naming %s", err, dir)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Errorf("error %q does not name the holder's pid", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	openLocal(t, dir)
}

// TestLocalLockAcrossProcesses holds the lock in a child process (this test
// binary re-run as a helper) and checks that the parent cannot open the dir
// until the child exits.
func TestLocalLockAcrossProcesses(t *testing.T) {
	if dir := os.Getenv("STORE_LOCK_HELPER_DIR"); dir != "" {
		lockHelper(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLocalLockAcrossProcesses$")
	cmd.Env = append(os.Environ(), "STORE_LOCK_HELPER_DIR="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "locked" {
		t.Fatalf("helper said %q, %v", line, err)
	}
	_, err = store.OpenLocal(dir)
	if !errors.Is(err, store.ErrLocked) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", cmd.Process.Pid)) {
		t.Fatalf("OpenLocal while another process holds the dir = %v, want ErrLocked naming pid %d", err, cmd.Process.Pid)
	}
	_ = stdin.Close() // the helper exits on EOF, without calling Close
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
	openLocal(t, dir)
}

// lockHelper opens dir, reports "locked" and exits when stdin closes,
// leaving the kernel to release the lock.
func lockHelper(dir string) {
	if _, err := store.OpenLocal(dir); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("locked")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	os.Exit(0)
}

func TestLocalCrashLeftoversAreIgnoredAndRemoved(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	l, err := store.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Put(ctx, storetest.State("web", 1)); err != nil {
		t.Fatal(err)
	}
	// A crash between creating the temp file and renaming it leaves the
	// half-written new state next to the intact old one.
	tmp := filepath.Join(dir, "services", ".web.json.tmp-123456")
	if err := os.WriteFile(tmp, []byte(`{"name":"web","generation":2,"act`), 0o600); err != nil {
		t.Fatal(err)
	}
	states, bad, err := l.Load(ctx)
	if err != nil || len(states) != 1 || len(bad) != 0 || states["web"].Generation != 1 {
		t.Errorf("Load with a leftover temp file = %v, bad %v, %v; want web at gen 1 only", states, bad, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	again := openLocal(t, dir)
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leftover temp file still there after open: %v", err)
	}
	if got, err := again.Get(ctx, "web"); err != nil || got.Generation != 1 {
		t.Errorf("Get after crash = gen %d, %v; want the old state", got.Generation, err)
	}
	if err := again.Put(ctx, storetest.State("web", 2)); err != nil {
		t.Errorf("Put after crash = %v", err)
	}
}

func TestLocalTornHistoryLine(t *testing.T) {
	dir := t.TempDir()
	l := openLocal(t, dir)
	ctx := context.Background()
	for i := 1; i <= 2; i++ {
		if err := l.AppendHistory(ctx, storetest.Record("web", i)); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "history", "web.jsonl")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString(`{"id":"web-3","service":"web","kin`) // a crash mid-append
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	recs, err := l.History(ctx, "web", 0)
	if err != nil || len(recs) != 2 || recs[0].ID != "web-2" {
		t.Fatalf("History with a torn last line = %d records, %v; want web-2, web-1", len(recs), err)
	}
	if err := l.AppendHistory(ctx, storetest.Record("web", 4)); err != nil {
		t.Fatal(err)
	}
	recs, err = l.History(ctx, "web", 0)
	if err != nil || len(recs) != 3 || recs[0].ID != "web-4" || recs[1].ID != "web-2" {
		t.Errorf("History after appending past a torn line = %v, %v; want web-4, web-2, web-1", recs, err)
	}
}

func TestLocalFilesArePrivateJSON(t *testing.T) {
	dir := t.TempDir()
	l := openLocal(t, dir)
	if err := l.Put(context.Background(), storetest.State("web", 1)); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "services", "web.json"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v, want 0600", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(filepath.Join(dir, "services", "web.json"))
	if !strings.Contains(string(data), `"generation": 1`) || !strings.HasSuffix(string(data), "}\n") {
		t.Errorf("state file is not readable JSON:\n%s", data)
	}
}

// TestLocalUnlockedWhileLocked: a store opened without its lock reads the
// recorded state, retirements included, while another store holds the
// lock, refuses writes, and takes the lock once the holder closes.
func TestLocalUnlockedWhileLocked(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	holder, err := store.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	st := storetest.State("a", 1)
	st.Retiring = []store.Retirement{{Version: "v0", Reason: "promoted by user", Drain: true}}
	if err := holder.Put(ctx, st); err != nil {
		t.Fatal(err)
	}
	next, err := store.OpenLocalUnlocked(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = next.Close() })
	states, bad, err := next.Load(ctx)
	if err != nil || len(bad) != 0 || len(states) != 1 {
		t.Fatalf("Load = %v, bad %v, %v; want a", states, bad, err)
	}
	if got := states["a"].Retiring; len(got) != 1 || got[0].Version != "v0" || !got[0].Drain {
		t.Errorf("retiring read back as %+v", got)
	}
	st.Generation = 2
	if err := next.Put(ctx, st); !errors.Is(err, store.ErrLocked) {
		t.Errorf("Put before Lock = %v, want ErrLocked", err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := next.Lock(short); !errors.Is(err, store.ErrLocked) {
		t.Errorf("Lock while held = %v, want ErrLocked once ctx ends", err)
	}
	locked := make(chan error, 1)
	go func() { locked <- next.Lock(ctx) }()
	if err := holder.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-locked; err != nil {
		t.Fatalf("Lock after the holder closed: %v", err)
	}
	if err := next.Put(ctx, st); err != nil {
		t.Errorf("Put after Lock: %v", err)
	}
	// Unlock hands the directory on and keeps reading.
	if err := next.Unlock(); err != nil {
		t.Fatal(err)
	}
	other, err := store.OpenLocal(dir)
	if err != nil {
		t.Fatalf("OpenLocal after Unlock: %v", err)
	}
	if got, err := next.Get(ctx, "a"); err != nil || got.Generation != 2 {
		t.Errorf("Get after Unlock = %+v, %v", got, err)
	}
	st.Generation = 3
	if err := next.Put(ctx, st); !errors.Is(err, store.ErrLocked) {
		t.Errorf("Put after Unlock = %v, want ErrLocked", err)
	}
	_ = other.Close()
}
