package api_test

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cutover-dev/cutover/internal/api"
	"github.com/cutover-dev/cutover/internal/api/apitest"
)

func TestSocketModeAndDirectory(t *testing.T) {
	dir := filepath.Join(shortDir(t), "a", "b")
	ts := startServer(t, apitest.NewFake(), func(o *api.Options) {
		o.Socket = filepath.Join(dir, "admin.sock")
		o.TCP = ""
	})
	fi, err := os.Lstat(ts.SocketPath())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode = %v, want socket 0600", fi.Mode())
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o700 {
		t.Errorf("created directory mode = %v, want 0700", di.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the socket", len(entries))
	}
	if ts.TCPAddr() != "" {
		t.Errorf("TCPAddr = %q without TCP", ts.TCPAddr())
	}
}

func TestStaleSocketIsReplaced(t *testing.T) {
	path := filepath.Join(shortDir(t), "admin.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close() // leaves the file with nobody answering
	ts := startServer(t, apitest.NewFake(), func(o *api.Options) { o.Socket, o.TCP = path, "" })
	if err := ts.unix.Health(t.Context()); err != nil {
		t.Fatalf("health over replaced socket: %v", err)
	}
}

func TestLiveSocketIsRefused(t *testing.T) {
	first := startServer(t, apitest.NewFake(), func(o *api.Options) { o.TCP = "" })
	srv, err := api.NewServer(api.Options{Backend: apitest.NewFake(), Logger: quietLogger(), Socket: first.SocketPath()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if err := srv.Start(t.Context()); !errors.Is(err, api.ErrSocketInUse) {
		t.Fatalf("Start = %v, want ErrSocketInUse", err)
	}
	if err := first.unix.Health(t.Context()); err != nil {
		t.Fatalf("first server no longer answers: %v", err)
	}
}

func TestSocketPathThatIsAFileIsLeftAlone(t *testing.T) {
	path := filepath.Join(shortDir(t), "admin.sock")
	if err := os.WriteFile(path, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv, err := api.NewServer(api.Options{Backend: apitest.NewFake(), Logger: quietLogger(), Socket: path})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if err := srv.Start(t.Context()); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("Start = %v, want a 'not a socket' error", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "keep me" {
		t.Fatalf("file content changed to %q", b)
	}
}
