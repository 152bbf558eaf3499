package store

import "os"

// WriteFileAtomic replaces dir/name with data durably: a temporary file in
// dir is written, synced and renamed over the target, and dir is synced. A
// reader sees the old or the new content, never a mix, even after a crash.
func WriteFileAtomic(dir, name string, data []byte, perm os.FileMode) error {
	return writeFileAtomic(dir, name, data, perm)
}

// FileLock is an exclusive lock on a file, released when its holder exits
// however it exits.
type FileLock struct{ l *dirLock }

// LockFile takes the exclusive lock on path without waiting. When another
// holder has it, the error wraps ErrLocked and names what (what) is in use.
func LockFile(path, what string) (*FileLock, error) {
	l, err := lockDir(path, what)
	if err != nil {
		return nil, err
	}
	return &FileLock{l: l}, nil
}

// Unlock releases the lock.
func (f *FileLock) Unlock() error { return f.l.unlock() }
