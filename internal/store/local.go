package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// File modes of the local backend's directories and files.
const (
	dirPerm  = 0o700
	filePerm = 0o600
)

// Local is the Store kept in a directory on one host:
//
//	<dir>/lock                  flock held while the store is open
//	<dir>/services/<name>.json  one service's state, replaced atomically
//	<dir>/history/<name>.jsonl  one service's history, one JSON record a line
//
// Only one Local may have a directory open at a time, across all processes.
// Local is safe for concurrent use: writes are serialised by a mutex, reads
// see whole files because every file is replaced by rename.
type Local struct {
	dir      string
	services string
	history  string
	lock     *dirLock

	mu     sync.Mutex // serialises writes; guards closed
	closed bool
}

var _ Store = (*Local)(nil)

// OpenLocal opens (creating if needed) the state directory dir, takes its
// lock and removes temporary files a crash left behind. It fails with an
// error wrapping ErrLocked, naming dir, when another store holds the lock.
func OpenLocal(dir string) (*Local, error) {
	l, err := OpenLocalUnlocked(dir)
	if err != nil {
		return nil, err
	}
	if err := l.tryLock(); err != nil {
		return nil, err
	}
	return l, nil
}

// OpenLocalUnlocked opens (creating if needed) the state directory dir
// without taking its lock: Load, Get and History work at once, so that a
// restarted or upgraded cutover serves the recorded state while the
// previous process still holds the lock; writes fail with an error
// wrapping ErrLocked until Lock has taken it. Every file is replaced by
// rename, so each entry read is whole.
func OpenLocalUnlocked(dir string) (*Local, error) {
	l := &Local{
		dir:      dir,
		services: filepath.Join(dir, "services"),
		history:  filepath.Join(dir, "history"),
	}
	for _, d := range []string{dir, l.services, l.history} {
		if err := os.MkdirAll(d, dirPerm); err != nil {
			return nil, fmt.Errorf("open state dir: %w", err)
		}
	}
	return l, nil
}

// lockPoll is how often Lock tries again while another process holds the
// lock.
const lockPoll = 10 * time.Millisecond

// Lock takes the directory's lock for a store opened with
// OpenLocalUnlocked, waiting while another process holds it until ctx
// ends, then removes temporary files a crash left behind. It does nothing
// when the lock is held already.
func (l *Local) Lock(ctx context.Context) error {
	tick := time.NewTicker(lockPoll)
	defer tick.Stop()
	for {
		err := l.tryLock()
		if !errors.Is(err, ErrLocked) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-tick.C:
		}
	}
}

// Unlock releases the directory's lock for a successor process and keeps
// the store open for reading: writes fail with an error wrapping ErrLocked
// until Lock takes it again. It does nothing when the lock is not held.
func (l *Local) Unlock() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lock == nil {
		return nil
	}
	err := l.lock.unlock()
	l.lock = nil
	return err
}

// tryLock takes the lock without waiting.
func (l *Local) tryLock() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if l.lock != nil {
		return nil
	}
	lock, err := lockDir(filepath.Join(l.dir, "lock"), l.dir)
	if err != nil {
		return err
	}
	if err := removeTempFiles(l.services); err != nil {
		_ = lock.unlock()
		return fmt.Errorf("clean state dir: %w", err)
	}
	l.lock = lock
	return nil
}

// writable reports an error unless l is open and holds its lock; the
// caller holds mu.
func (l *Local) writable() error {
	switch {
	case l.closed:
		return ErrClosed
	case l.lock == nil:
		return fmt.Errorf("%w: %s: the store was opened without its lock and has not taken it yet", ErrLocked, l.dir)
	}
	return nil
}

// Dir returns the state directory.
func (l *Local) Dir() string { return l.dir }

// begin checks ctx and that l is open.
func (l *Local) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	return nil
}

func (l *Local) statePath(name string) string {
	return filepath.Join(l.services, name+".json")
}

// Load implements Store. A file that cannot be read or decoded, or whose
// recorded name differs from its file name, is reported in bad.
func (l *Local) Load(ctx context.Context) (map[string]ServiceState, map[string]error, error) {
	if err := l.begin(ctx); err != nil {
		return nil, nil, err
	}
	entries, err := os.ReadDir(l.services)
	if err != nil {
		return nil, nil, fmt.Errorf("load state: %w", err)
	}
	states, bad := map[string]ServiceState{}, map[string]error{}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || e.IsDir() || !ValidName(name) {
			continue
		}
		s, err := l.read(name)
		switch {
		case errors.Is(err, ErrNotFound):
			// Deleted since ReadDir.
		case err != nil:
			bad[name] = err
		default:
			states[name] = s
		}
	}
	return states, bad, nil
}

// Get implements Store. An entry that cannot be decoded gives an error
// wrapping ErrCorrupt.
func (l *Local) Get(ctx context.Context, name string) (ServiceState, error) {
	if err := checkName(name); err != nil {
		return ServiceState{}, err
	}
	if err := l.begin(ctx); err != nil {
		return ServiceState{}, err
	}
	return l.read(name)
}

// read decodes one service's file.
func (l *Local) read(name string) (ServiceState, error) {
	data, err := os.ReadFile(l.statePath(name))
	if errors.Is(err, os.ErrNotExist) {
		return ServiceState{}, fmt.Errorf("service %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return ServiceState{}, fmt.Errorf("read state of %s: %w", name, err)
	}
	var s ServiceState
	if err := json.Unmarshal(data, &s); err != nil {
		return ServiceState{}, fmt.Errorf("%w: service %s: %v", ErrCorrupt, name, err)
	}
	if s.Name != name {
		return ServiceState{}, fmt.Errorf("%w: file for service %s holds service %q", ErrCorrupt, name, s.Name)
	}
	return s, nil
}

// Put implements Store. The compare and the write happen under one lock,
// and the write is durable (synced, renamed, directory synced) on return.
func (l *Local) Put(ctx context.Context, s ServiceState) error {
	if err := checkName(s.Name); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state of %s: %w", s.Name, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writable(); err != nil {
		return err
	}
	var stored uint64
	cur, err := l.read(s.Name)
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return err
	default:
		stored = cur.Generation
	}
	if s.Generation == 0 || s.Generation-1 != stored {
		return fmt.Errorf("%w: service %s is at generation %d, write has %d", ErrConflict, s.Name, stored, s.Generation)
	}
	if err := writeFileAtomic(l.services, s.Name+".json", append(data, '\n'), filePerm); err != nil {
		return fmt.Errorf("write state of %s: %w", s.Name, err)
	}
	return nil
}

// Delete implements Store. Deleting a service with no state is not an
// error; its history is kept.
func (l *Local) Delete(ctx context.Context, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writable(); err != nil {
		return err
	}
	err := os.Remove(l.statePath(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete state of %s: %w", name, err)
	}
	return syncDir(l.services)
}

// Close implements Store: it releases the directory lock. It is idempotent.
func (l *Local) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	if l.lock == nil {
		return nil
	}
	return l.lock.unlock()
}
