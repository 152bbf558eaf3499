package api

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
)

// staleProbeTimeout bounds the check for a server on an existing socket.
const staleProbeTimeout = time.Second

// listenUnix listens on a unix socket at path that is mode 0600 (or 0660
// and owned by group, when group is not empty) from the moment it appears:
// it binds a temporary name in the same directory, sets the mode and
// group, then renames it into place. A stale socket file at path is
// removed; a live one (another server answers) is an ErrSocketInUse error,
// and a path that is not a socket is left alone and reported. The parent
// directory is created with mode 0700 when missing.
func listenUnix(path, group string) (*net.UnixListener, error) {
	mode, gid := os.FileMode(0o600), -1
	if group != "" {
		id, err := config.LookupGroup(group)
		if err != nil {
			return nil, fmt.Errorf("%w: admin.socket_group: %w", ErrBadOptions, err)
		}
		mode, gid = 0o660, id
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create admin socket directory: %w", err)
	}
	if gid >= 0 {
		if err := shareDir(dir, gid, group); err != nil {
			return nil, err
		}
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	tmp, err := tempSocketName(dir)
	if err != nil {
		return nil, err
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen on admin socket: %w", err)
	}
	l.SetUnlinkOnClose(false)
	fail := func(err error) (*net.UnixListener, error) {
		_ = l.Close()
		_ = os.Remove(tmp)
		return nil, err
	}
	if gid >= 0 {
		if err := os.Chown(tmp, -1, gid); err != nil {
			return fail(fmt.Errorf("give the admin socket to group %s (cutover serve must run as root or as a member of it): %w",
				group, err))
		}
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return fail(fmt.Errorf("set admin socket mode: %w", err))
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(fmt.Errorf("place admin socket: %w", err))
	}
	return l, nil
}

// shareDir lets members of group gid reach the socket in dir: unless
// others may already search dir, it gives dir to the group and adds the
// group search bit (mode g+x, no read: the names in it stay private).
func shareDir(dir string, gid int, group string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("admin socket directory: %w", err)
	}
	perm := fi.Mode().Perm()
	st, ok := fi.Sys().(*syscall.Stat_t)
	if perm&0o001 != 0 || (ok && int(st.Gid) == gid && perm&0o010 != 0) {
		return nil
	}
	if err := os.Chown(dir, -1, gid); err != nil {
		return fmt.Errorf("give the admin socket directory %s to group %s: %w", dir, group, err)
	}
	if err := os.Chmod(dir, perm|0o010); err != nil {
		return fmt.Errorf("let group %s search the admin socket directory %s: %w", group, dir, err)
	}
	return nil
}

// tempSocketName returns a short unused name in dir.
func tempSocketName(dir string) (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("admin socket name: %w", err)
	}
	return filepath.Join(dir, ".s"+hex.EncodeToString(b[:])), nil
}

// removeStale removes a socket file at path that no server answers on.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check admin socket: %w", err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("admin socket path %s exists and is not a socket; remove it or choose another admin.socket: %w",
			path, ErrBadOptions)
	}
	c, err := net.DialTimeout("unix", path, staleProbeTimeout)
	if err == nil {
		_ = c.Close()
		return fmt.Errorf("%w: %s (is cutover serve already running?)", ErrSocketInUse, path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("check admin socket %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove stale admin socket: %w", err)
	}
	return nil
}
