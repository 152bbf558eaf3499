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
)

// staleProbeTimeout bounds the check for a server on an existing socket.
const staleProbeTimeout = time.Second

// listenUnix listens on a unix socket at path that is mode 0600 from the
// moment it appears: it binds a temporary name in the same directory, sets
// the mode, then renames it into place. A stale socket file at path is
// removed; a live one (another server answers) is an ErrSocketInUse error,
// and a path that is not a socket is left alone and reported. The parent
// directory is created with mode 0700 when missing.
func listenUnix(path string) (*net.UnixListener, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create admin socket directory: %w", err)
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
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fail(fmt.Errorf("set admin socket mode: %w", err))
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(fmt.Errorf("place admin socket: %w", err))
	}
	return l, nil
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
