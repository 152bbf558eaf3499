package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cutover-dev/cutover/internal/coord"
)

// Defaults of AgentOptions.
const (
	// DefaultPrefix is the key prefix of a fleet.
	DefaultPrefix = "/cutover/"
	// DefaultLeaseTTL is how long a host stays registered after its last
	// lease renewal.
	DefaultLeaseTTL = 5 * time.Second
	// DefaultCommitTimeout bounds waiting for hosts to acknowledge a commit
	// or an abort before they are reported as lagging.
	DefaultCommitTimeout = 30 * time.Second
)

// Errors of the fleet layer.
var (
	// ErrNotReady reports an agent that has not started or has closed.
	ErrNotReady = errors.New("fleet agent is not running")
	// ErrBadOptions reports AgentOptions an agent cannot use.
	ErrBadOptions = errors.New("bad fleet options")
)

var hostNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// AgentOptions configures an Agent.
type AgentOptions struct {
	// Store is the coordination store (required).
	Store coord.Store
	// Prefix is the key prefix of the fleet (default DefaultPrefix).
	Prefix string
	// Name is this host's name in the fleet (required): letters, digits,
	// '.', '-', '_'.
	Name string
	// Host is the local controller the agent drives (required).
	Host Host
	// LeaseTTL is the host's lease TTL (default DefaultLeaseTTL).
	LeaseTTL time.Duration
	// CommitTimeout bounds waiting for acknowledgements (default DefaultCommitTimeout).
	CommitTimeout time.Duration
	// StateDir, if set, keeps the lease of this host so that a restarted
	// process revokes its predecessor's lease at once instead of waiting for
	// it to expire.
	StateDir string
	// Logger receives structured logs (default slog.Default()).
	Logger *slog.Logger
	// Adopt records, for every service the fleet has no committed version
	// of, the version this host serves, so a host that ran cutover before
	// it had a fleet keeps serving it. For a fleet of one (the local
	// backend); a fleet of many starts from its first deploy.
	Adopt bool
}

// Agent is one host's member of the fleet: it registers the host on a
// lease, prepares, commits and undoes the plans that name the host,
// converges the host to the committed version of every service, answers
// whether the host may take traffic (Ready), and coordinates the fleet
// operations this host is asked to run. Its methods are safe for
// concurrent use.
type Agent struct {
	opts AgentOptions
	keys keys
	log  *slog.Logger
	view *view
	host Host

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	sess    atomic.Pointer[coord.Session]
	started atomic.Bool
	ready   atomic.Pointer[readiness]

	mu         sync.Mutex
	plans      map[string]*localPlan // plans this host takes part in
	converging map[string]bool       // services being converged
	convergeAt map[string]time.Time  // earliest next convergence attempt
	retired    map[string]int64      // service → ModRevision of the last retire request handled
	takeovers  map[string]bool       // deploys being taken over
	coords     map[string]*coordRun  // deploys this host coordinates
	record     HostRecord            // last registered record
	// regMu serialises the writes of the host record: each writes the
	// latest record, so the last write is never an older one.
	regMu     sync.Mutex
	recordRev int64
	lastErr   map[string]string // service → last convergence or apply error
	closed    bool
}

// readiness is the last computed answer of the ready endpoint, lease aside.
type readiness struct {
	ok     bool
	reason string
}

// localPlan is this host's part of one plan.
type localPlan struct {
	plan   Plan
	status planStatus
	cancel context.CancelFunc // ends a prepare
	done   chan struct{}      // closed when the prepare goroutine ended

	// A canary's progress on this host.
	weight     float64            // the weight routed to the canary
	applying   bool               // a weight change is being applied
	weightErr  string             // the last weight change that failed
	stopReport context.CancelFunc // ends the numbers reporter
}

type planStatus int

const (
	planPreparing planStatus = iota
	planPrepared
	planFailed
	planCommitting
	planSwitched
	planUndoing
	planUndone
	planCanary // the prepared canary takes the weight the fleet sets
)

// NewAgent validates opts and returns an agent; call Start.
func NewAgent(opts AgentOptions) (*Agent, error) {
	switch {
	case opts.Store == nil:
		return nil, fmt.Errorf("%w: a coordination store is required", ErrBadOptions)
	case opts.Host == nil:
		return nil, fmt.Errorf("%w: a host controller is required", ErrBadOptions)
	case !hostNameRE.MatchString(opts.Name):
		return nil, fmt.Errorf("%w: host name %q: use letters, digits, '.', '-' or '_' (at most 63)", ErrBadOptions, opts.Name)
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = DefaultLeaseTTL
	}
	if opts.CommitTimeout <= 0 {
		opts.CommitTimeout = DefaultCommitTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	k := newKeys(opts.Prefix)
	log := opts.Logger.With("host", opts.Name)
	a := &Agent{
		opts: opts, keys: k, log: log, host: opts.Host,
		view:       newView(opts.Store, k, log),
		plans:      map[string]*localPlan{},
		converging: map[string]bool{},
		convergeAt: map[string]time.Time{},
		retired:    map[string]int64{},
		takeovers:  map[string]bool{},
		coords:     map[string]*coordRun{},
		lastErr:    map[string]string{},
	}
	a.ready.Store(&readiness{reason: "starting: not yet in sync with the fleet"})
	return a, nil
}

// Name returns this host's name.
func (a *Agent) Name() string { return a.opts.Name }

// Start revokes the lease a previous process of this host left, takes a
// new one, registers the host and starts following the fleet. It returns
// once the host is registered; readiness follows when the host has
// converged.
func (a *Agent) Start(ctx context.Context) error {
	if !a.started.CompareAndSwap(false, true) {
		return fmt.Errorf("%w: already started", ErrBadOptions)
	}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.revokePrevious(ctx)
	if err := a.newSession(ctx); err != nil {
		return err
	}
	a.resumePrepared()
	if a.opts.Adopt {
		if err := a.adopt(ctx); err != nil {
			return err
		}
	}
	a.wg.Go(func() { a.view.run(a.ctx) })
	a.wg.Go(a.loop)
	return nil
}

// Close stops following the fleet and revokes the host's lease (its
// registration and prepared reports vanish at once). Instances keep
// running. It is idempotent.
func (a *Agent) Close() error {
	a.mu.Lock()
	if a.closed || a.cancel == nil {
		a.closed = true
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	a.mu.Unlock()
	a.cancel()
	a.wg.Wait()
	if s := a.sess.Load(); s != nil {
		_ = s.Close()
	}
	a.removeLeaseFile()
	return nil
}

func (a *Agent) leaseFile() string {
	if a.opts.StateDir == "" {
		return ""
	}
	return filepath.Join(a.opts.StateDir, "fleet-lease")
}

// revokePrevious revokes the lease recorded by an earlier process.
func (a *Agent) revokePrevious(ctx context.Context) {
	f := a.leaseFile()
	if f == "" {
		return
	}
	b, err := os.ReadFile(f)
	if err != nil {
		return
	}
	id, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || id == 0 {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := a.opts.Store.Revoke(rctx, coord.LeaseID(id)); err != nil {
		a.log.Warn("revoke the lease of a previous process", "lease", id, "err", err)
		return
	}
	a.log.Info("revoked the lease of a previous process of this host", "lease", id)
}

func (a *Agent) removeLeaseFile() {
	if f := a.leaseFile(); f != "" {
		_ = os.Remove(f)
	}
}

// newSession takes a lease and registers the host on it.
func (a *Agent) newSession(ctx context.Context) error {
	s, err := coord.NewSession(ctx, a.opts.Store, a.opts.LeaseTTL, coord.SessionOptions{Logger: a.log})
	if err != nil {
		return fmt.Errorf("fleet: take a lease: %w", err)
	}
	if old := a.sess.Swap(s); old != nil {
		_ = old.Close()
	}
	if f := a.leaseFile(); f != "" {
		if err := os.WriteFile(f, []byte(strconv.FormatInt(int64(s.Lease()), 10)+"\n"), 0o600); err != nil {
			a.log.Warn("record lease", "err", err)
		}
	}
	a.mu.Lock()
	a.recordRev = 0 // force a registration on the new lease
	a.mu.Unlock()
	return a.register(ctx)
}

// register writes the host record on the lease when it changed.
func (a *Agent) register(ctx context.Context) error {
	s := a.sess.Load()
	if s == nil {
		return ErrNotReady
	}
	a.regMu.Lock()
	defer a.regMu.Unlock()
	a.mu.Lock()
	a.record.Name = a.opts.Name
	a.record.PID = os.Getpid()
	if a.record.Started.IsZero() {
		a.record.Started = time.Now()
	}
	rec := a.record // the latest: a change after this read writes again after this write
	a.mu.Unlock()
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	res, err := a.opts.Store.Txn(rctx, coord.Txn{Then: []coord.Op{coord.PutWithLease(a.keys.host(a.opts.Name), encode(rec), s.Lease())}})
	if err != nil {
		return fmt.Errorf("fleet: register host %s: %w", a.opts.Name, err)
	}
	a.mu.Lock()
	a.recordRev = res.Revision
	a.mu.Unlock()
	return nil
}

// loop re-evaluates the fleet on every change of the mirror, on a lost
// session, and periodically for time-based rules (deadlines, retries).
func (a *Agent) loop() {
	tick := time.NewTicker(max(a.opts.LeaseTTL/10, 50*time.Millisecond))
	defer tick.Stop()
	for {
		snap, changed := a.view.read()
		a.reconcile(snap)
		var done <-chan struct{}
		if s := a.sess.Load(); s != nil {
			done = s.Done()
		}
		select {
		case <-a.ctx.Done():
			return
		case <-changed:
		case <-tick.C:
		case <-done:
			a.log.Warn("host lease lost; registering again")
			a.setReady(false, "the host's lease expired; registering again")
			for a.ctx.Err() == nil {
				if err := a.newSession(a.ctx); err != nil {
					a.log.Warn("register again", "err", err)
					select {
					case <-a.ctx.Done():
					case <-time.After(200 * time.Millisecond):
					}
					continue
				}
				break
			}
		}
	}
}

func (a *Agent) setReady(ok bool, reason string) {
	cur := a.ready.Load()
	if cur != nil && cur.ok == ok && cur.reason == reason {
		return
	}
	a.ready.Store(&readiness{ok: ok, reason: reason})
	if ok {
		a.log.Info("host ready")
	} else {
		a.log.Warn("host not ready", "reason", reason)
	}
}

// Ready reports whether this host may take traffic: it holds a live lease,
// follows the fleet, and routes the latest committed version of every
// service. When not, reason says why.
func (a *Agent) Ready() (ok bool, reason string) {
	s := a.sess.Load()
	if s == nil {
		return false, "not registered in the fleet yet"
	}
	if !s.Live() {
		return false, "the host's lease is not confirmed live (cut off from the coordination store?)"
	}
	r := a.ready.Load()
	return r.ok, r.reason
}

// put writes one key, retrying while the store is briefly unavailable. A
// key of a deploy is written only while the deploy's plan exists, so a
// late report never outlives the deploy's removal.
func (a *Agent) put(key string, v any, lease bool) error {
	var ops []coord.Op
	var guard []coord.Cmp
	if kind, id, _, ok := a.keys.parse(key); ok {
		switch kind {
		case "prepared", "failed", "switched", "undone", "stats":
			guard = []coord.Cmp{coord.Exists(a.keys.plan(id))}
		}
	}
	for attempt := 0; ; attempt++ {
		ops = ops[:0]
		if lease {
			s := a.sess.Load()
			if s == nil {
				return ErrNotReady
			}
			ops = append(ops, coord.PutWithLease(key, encode(v), s.Lease()))
		} else {
			ops = append(ops, coord.Put(key, encode(v)))
		}
		ctx, cancel := context.WithTimeout(a.ctx, 5*time.Second)
		_, err := a.opts.Store.Txn(ctx, coord.Txn{If: guard, Then: ops})
		cancel()
		if err == nil || a.ctx.Err() != nil || attempt >= 20 {
			return err
		}
		a.log.Warn("fleet write failed; retrying", "key", key, "err", err)
		select {
		case <-a.ctx.Done():
			return a.ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
