// Package process runs instances as local processes.
//
// Each instance is the leader of its own process group, reads /dev/null and
// appends its output to <LogDir>/<service>/<instance>.log. Nothing ties it
// to cutover's lifetime: it outlives cutover exiting or being killed, and a
// later Runtime finds it again from the PID and PIDStart recorded in its
// Instance. PIDStart (the start time from /proc) guards against a reused
// PID being mistaken for the instance.
package process

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/runtime"
)

// DefaultLogMaxBytes caps an instance's log file when its service sets no
// log_max_bytes.
const DefaultLogMaxBytes = 10 << 20

// MinLogMaxBytes is the smallest log cap honoured; smaller caps are raised
// to it.
const MinLogMaxBytes = 4 << 10

// DefaultLogCheckInterval is how often log sizes are checked.
const DefaultLogCheckInterval = 5 * time.Second

// ErrInvalidSpec reports a start request that cannot be run as given, such
// as a missing command or a template that does not render.
var ErrInvalidSpec = errors.New("invalid process spec")

// ErrClosed reports a Start after Close.
var ErrClosed = errors.New("process runtime closed")

// Options configures a Runtime. The zero value is usable when every
// StartSpec carries a LogDir.
type Options struct {
	// Logger receives lifecycle events (default slog.Default()).
	Logger *slog.Logger
	// LogDir is the directory under which instance logs are written, as
	// <LogDir>/<service>/<instance>.log. A StartSpec's LogDir overrides it.
	LogDir string
	// LogMaxBytes caps the log of a service that sets no log_max_bytes, and
	// of instances adopted from an earlier run (default DefaultLogMaxBytes,
	// at least MinLogMaxBytes). When a live instance's log grows past its
	// cap, the older half is removed.
	LogMaxBytes int64
	// LogCheckInterval is how often log sizes are checked (default
	// DefaultLogCheckInterval).
	LogCheckInterval time.Duration
	// Owner identifies this cutover (e.g. a hash of host and state
	// directory). When set, every instance's environment carries it as
	// CUTOVER_OWNER, and List finds the instances marked with it. Empty
	// (the default) leaves instances unmarked and List empty.
	Owner string
	// OnExit, if set, is called (from the goroutine that reaps it) when a
	// process this Runtime started exits, whether it crashed or was
	// stopped, so a crash is known at once rather than at the next health
	// probe. It must not block. Processes adopted from an earlier run are
	// not reaped here, so their exits are not reported.
	OnExit func(inst runtime.Instance, st runtime.State)
}

// Runtime starts, inspects and stops process instances. It implements
// runtime.Runtime and is safe for concurrent use.
//
// A background goroutine caps the log files of live instances; Close stops
// it. For each process it starts, the Runtime also keeps a goroutine that
// waits for the process to exit, so exited instances never linger as
// zombies; that goroutine ends when the process does.
type Runtime struct {
	log  *slog.Logger
	opts Options

	mu sync.Mutex
	// children are the processes this Runtime started and reaps.
	children map[procKey]*child
	// logs are the log files the janitor keeps under their cap, by instance id.
	logs map[string]logEntry

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

var _ runtime.Runtime = (*Runtime)(nil)

// New returns a Runtime and starts its log janitor.
func New(opts Options) (*Runtime, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.LogMaxBytes < 0 {
		return nil, fmt.Errorf("process runtime: LogMaxBytes %d must not be negative", opts.LogMaxBytes)
	}
	if opts.LogMaxBytes == 0 {
		opts.LogMaxBytes = DefaultLogMaxBytes
	}
	opts.LogMaxBytes = max(opts.LogMaxBytes, MinLogMaxBytes)
	if opts.LogCheckInterval < 0 {
		return nil, fmt.Errorf("process runtime: LogCheckInterval %s must not be negative", opts.LogCheckInterval)
	}
	if opts.LogCheckInterval == 0 {
		opts.LogCheckInterval = DefaultLogCheckInterval
	}
	if opts.LogDir != "" {
		dir, err := filepath.Abs(opts.LogDir)
		if err != nil {
			return nil, fmt.Errorf("process runtime: log dir: %w", err)
		}
		opts.LogDir = dir
	}
	r := &Runtime{
		log:      opts.Logger,
		opts:     opts,
		children: make(map[procKey]*child),
		logs:     make(map[string]logEntry),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	go r.janitor(opts.LogCheckInterval)
	return r, nil
}

// Kind returns "process".
func (r *Runtime) Kind() string { return config.RuntimeProcess }

// Close stops the log janitor. It does not stop instances, which keep
// running until stopped by this or a later Runtime. Close is idempotent.
func (r *Runtime) Close() error {
	r.closeOnce.Do(func() {
		close(r.stop)
		<-r.done
	})
	return nil
}

// closed reports whether Close was called.
func (r *Runtime) closed() bool {
	select {
	case <-r.stop:
		return true
	default:
		return false
	}
}
