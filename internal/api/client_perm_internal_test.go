package api

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

func TestPermissionErrorMessage(t *testing.T) {
	dir, err := os.MkdirTemp("", "co")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "a.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	u, _ := user.Current()
	g, _ := user.LookupGroupId(strconv.Itoa(os.Getgid()))

	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	pe := permissionError(path, syscall.EACCES)
	want := "permission denied on " + path + ": only " + u.Username + " may use it; run as " + u.Username +
		" or root, or let a group in with admin.socket_group"
	if pe.Error() != want {
		t.Errorf("mode 0600:\n got %s\nwant %s", pe, want)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		t.Fatal(err)
	}
	pe = permissionError(path, syscall.EACCES)
	if want := "permission denied on " + path + ": add your user to group " + g.Name + " or run as root"; pe.Error() != want {
		t.Errorf("mode 0660:\n got %s\nwant %s", pe, want)
	}
	if !errors.Is(pe, ErrUnreachable) || !errors.Is(pe, fs.ErrPermission) {
		t.Errorf("%v does not match ErrUnreachable and fs.ErrPermission", pe)
	}
}
