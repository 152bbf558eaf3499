package e2e

import (
	"bytes"
	"context"
	"errors"
	"github.com/cutover-dev/cutover/internal/testutil"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// e2eToken is an admin token long enough for cutover serve (32 bytes).
const e2eToken = "s3cret-token-0123456789abcdef0123"

// exitUnreachable is the CLI's exit code when it cannot reach the server.
const exitUnreachable = 4

// TestLogsCommand: status shows the instance's log file under the state
// dir, 'cutover logs' prints what the app wrote to it, and -f follows it
// until interrupted.
func TestLogsCommand(t *testing.T) {
	e := newEnv(t, "")
	e.start()
	e.mustCLI("deploy", "shop", "v1")

	logDir := filepath.Join(e.dir, "state", "logs", "shop")
	st := e.mustCLI("status", "shop")
	if !strings.Contains(st.stdout, "LOG") || !strings.Contains(st.stdout, logDir+string(filepath.Separator)) {
		t.Fatalf("status shows no log path under %s:\n%s", logDir, st.stdout)
	}
	r := e.mustCLI("logs", "shop")
	if !strings.Contains(r.stdout, "sample-app v1 listening on") {
		t.Fatalf("logs:\n%s", r.stdout)
	}
	if r := e.cli("logs", "shop", "--version", "v9"); r.code == 0 ||
		!strings.Contains(r.stderr, "service shop has no release v9; running: v1") {
		t.Fatalf("unknown version: %+v", r)
	}

	logs, _ := filepath.Glob(filepath.Join(logDir, "*.log"))
	if len(logs) != 1 {
		t.Fatalf("log files %v", logs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "logs", "shop", "-f", "-n", "0")
	cmd.Env = append(os.Environ(), "CUTOVER_ADMIN=unix://"+e.sock)
	var out, errb testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// What the instance appends is printed as it comes; the log is the
	// instance's real file, appended to as the app would.
	waitFor(t, "the follower to print a line appended to the log", 10*time.Second, func() bool {
		f, err := os.OpenFile(logs[0], os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("e2e marker line\n")
		f.Close()
		return strings.Contains(out.String(), "e2e marker line")
	})
	if strings.Contains(out.String(), "listening on") {
		t.Errorf("-n 0 printed old lines: %q", out.String())
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("logs -f after an interrupt: %v\n%s", err, errb.String())
	}
}

// TestAdminSocketGroup: with admin.socket_group the socket is 0660 and
// owned by the group; a user outside the group is told to join it, a
// member gets in.
func TestAdminSocketGroup(t *testing.T) {
	g, err := user.LookupGroupId(strconv.Itoa(os.Getgid()))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, "")
	cfg, _ := os.ReadFile(e.cfg)
	cfg = bytes.Replace(cfg, []byte("admin:\n"), []byte("admin:\n  socket_group: "+g.Name+"\n"), 1)
	if err := os.WriteFile(e.cfg, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	// Other users may pass through the test's directories (not list them).
	for _, d := range []string{e.dir, filepath.Dir(bin)} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	e.start()
	fi, err := os.Stat(e.sock)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o660 {
		t.Errorf("socket mode %04o, want 0660", mode)
	}
	if gid := fi.Sys().(*syscall.Stat_t).Gid; int(gid) != os.Getgid() {
		t.Errorf("socket group %d, want %d (%s)", gid, os.Getgid(), g.Name)
	}
	e.mustCLI("status")

	if os.Geteuid() != 0 {
		// Only root can run the CLI as another user; the mode and group
		// checked above are what lets the group's members in.
		return
	}
	nobody := &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}
	r := e.cliAs(nobody, "status")
	want := "permission denied on " + e.sock + ": add your user to group " + g.Name + " or run as root"
	if r.code != exitUnreachable || !strings.Contains(r.stderr, want) {
		t.Fatalf("outside the group: exit %d\n%s\nwant %q", r.code, r.stderr, want)
	}
	member := &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{uint32(os.Getgid())}}
	if r := e.cliAs(member, "status"); r.code != 0 {
		t.Fatalf("member of the group: exit %d\n%s", r.code, r.stderr)
	}
}

// cliAs runs the CLI against the env's socket as another user.
func (e *env) cliAs(cred *syscall.Credential, args ...string) result {
	e.t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"CUTOVER_ADMIN=unix://" + e.sock, "HOME=/", "PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("run cutover %v as %d: %v", args, cred.Uid, err)
	}
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}
