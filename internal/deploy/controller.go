// Package deploy is cutover's controller: a per-service state machine that
// starts new versions beside old ones, gates them on health, switches
// traffic, drains and retires, keeps a warm standby for instant rollback,
// and recovers to the recorded state after a crash.
//
// Every decision is written to the store before it is acted on. Operations
// on one service are serialised: a second deploy while one runs is refused
// with ErrBusy. The controller drives hosts only through an Agent.
package deploy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/metrics"
	"github.com/cutover-dev/cutover/internal/store"
)

// Options configures a Controller.
type Options struct {
	// Config is the loaded configuration (required).
	Config *config.Config
	// Store persists state and history (required).
	Store store.Store
	// Agent runs instances and routes traffic on this host (required).
	Agent Agent
	// Metrics is the proxy's metrics registry, read by canary analysis (required for canary).
	Metrics *metrics.Registry
	// Logger receives structured logs (default slog.Default()).
	Logger *slog.Logger
	// LogDir is where instance logs go (default <state_dir>/logs).
	LogDir string
	// OnActiveUnhealthy, if set, is called instead of rolling back on this
	// host when the active version turns unhealthy while a standby is warm:
	// in a fleet the rollback must happen on every host at once. It must not
	// block.
	OnActiveUnhealthy func(service, reason string)
	// HostName names this host on the instances the controller starts
	// (default os.Hostname()).
	HostName string
}

// Controller runs deploys. Its methods are safe for concurrent use.
type Controller struct {
	fleetOps fleetOps // operations fleet deploys drive, by fleet deploy id
	opts     Options
	log      *slog.Logger
	bus      *bus

	ctx    context.Context // lifetime of background work
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	cfg      *config.Config
	services map[string]*service
	bad      map[string]error // services whose stored state is unreadable
	closed   bool
	// restored and started record that Restore and Start ran; operations
	// are refused until Start has.
	restored, started bool
	// swept is closed when the sweep Start runs in the background (stored
	// services no longer configured, orphan instances) has ended.
	swept chan struct{}

	// opGate orders starting operations with Suspend: begin holds it for
	// reading from its check until the operation is registered.
	opGate sync.RWMutex
	// suspended is set while the controller hands over to a successor
	// process: nothing is started or written.
	suspended atomic.Bool
}

// ErrSuspended reports a write refused while the controller is suspended
// for a handover to a successor process.
var ErrSuspended = errors.New("controller suspended for a handover to a new cutover process")

// Suspend stops the controller changing anything, for a handover of the
// state to a successor process (an upgrade): operations and reloads are
// refused with ErrBusy, and once Suspend returns no state is written
// (background retirements stop recording; the successor resumes them from
// the record). It fails with ErrBusy, saying what holds it, while an
// operation runs. Unsuspend ends it.
func (c *Controller) Suspend() error {
	c.opGate.Lock()
	c.mu.Lock()
	svcs := c.serviceList()
	c.mu.Unlock()
	for _, s := range svcs {
		s.mu.Lock()
		op := s.op
		var err error
		if op != nil {
			err = op.busyError()
		}
		s.mu.Unlock()
		if err != nil {
			c.opGate.Unlock()
			return fmt.Errorf("an upgrade waits for running operations to end: %w", err)
		}
	}
	c.suspended.Store(true)
	c.opGate.Unlock()
	// Writes under way end; later ones see the flag.
	for _, s := range svcs {
		s.wmu.Lock()
		s.wmu.Unlock()
	}
	return nil
}

// Unsuspend ends a suspension whose handover failed: it reads the
// recorded state again (the failed successor may have changed it), serves
// it, resumes the recorded retirements and accepts operations again. The
// store must be writable again (its lock taken back).
func (c *Controller) Unsuspend(ctx context.Context) error {
	states, _, err := c.opts.Store.Load(ctx)
	if err != nil {
		return fmt.Errorf("load state: %w", err)
	}
	c.mu.Lock()
	svcs := c.serviceList()
	c.mu.Unlock()
	for _, s := range svcs {
		if st, ok := states[s.name]; ok && st.Generation != s.state().Generation {
			s.mu.Lock()
			s.st = st
			s.mu.Unlock()
			s.serveRecorded(ctx)
			s.armStandby()
		}
	}
	c.suspended.Store(false)
	for _, s := range svcs {
		s.resumeRetirements()
	}
	return nil
}

// New validates opts and returns a controller; call Start to recover state.
func New(opts Options) (*Controller, error) {
	if opts.Config == nil || opts.Store == nil || opts.Agent == nil {
		return nil, fmt.Errorf("%w: controller needs a config, a store and an agent", ErrInvalid)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.LogDir == "" {
		opts.LogDir = filepath.Join(opts.Config.StateDir, "logs")
	}
	if opts.HostName == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("%w: name this host with Options.HostName: %v", ErrInvalid, err)
		}
		opts.HostName = h
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Controller{
		opts:     opts,
		log:      opts.Logger,
		bus:      newBus(),
		ctx:      ctx,
		cancel:   cancel,
		cfg:      opts.Config,
		services: map[string]*service{},
		bad:      map[string]error{},
		swept:    make(chan struct{}),
	}, nil
}

// Close stops background work (operations in progress are cancelled and
// undone as far as they can be) without stopping app instances, which a
// later Start re-adopts. Close is idempotent.
func (c *Controller) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	svcs := c.serviceList()
	c.mu.Unlock()
	for _, s := range svcs {
		s.stopTimers()
	}
	c.cancel()
	c.wg.Wait()
	c.bus.close()
	return nil
}

func (c *Controller) serviceList() []*service {
	out := make([]*service, 0, len(c.services))
	for _, s := range c.services {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *service) int {
		switch {
		case a.name < b.name:
			return -1
		case a.name > b.name:
			return 1
		}
		return 0
	})
	return out
}

func (c *Controller) service(name string) (*service, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, fmt.Errorf("%w: controller is shutting down", ErrBusy)
	}
	s, ok := c.services[name]
	if !ok {
		if err, bad := c.bad[name]; bad {
			return nil, fmt.Errorf("%w: service %s: stored state is unreadable: %v", ErrInvalid, name, err)
		}
		return nil, fmt.Errorf("%w: %q (known: %v)", ErrUnknownService, name, c.namesLocked())
	}
	return s, nil
}

func (c *Controller) namesLocked() []string {
	names := make([]string, 0, len(c.services))
	for n := range c.services {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// addBackground counts one more piece of background work that Close waits
// for, and reports false (counting nothing) once the controller is closed.
// Counting under mu, where Close marks the controller closed before it
// waits, keeps every Add ahead of that Wait.
func (c *Controller) addBackground() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.wg.Add(1)
	return true
}

// goBackground runs fn as background work owned by the controller; once
// the controller is closed it does nothing and reports false.
func (c *Controller) goBackground(fn func()) bool {
	if !c.addBackground() {
		return false
	}
	go func() {
		defer c.wg.Done()
		fn()
	}()
	return true
}

var versionRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$`)

func validVersion(v string) error {
	if !versionRE.MatchString(v) {
		return fmt.Errorf("%w: version %q: use letters, digits, '.', '_', '+' or '-' (at most 128, starting with a letter or digit)", ErrInvalid, v)
	}
	return nil
}

func newID(prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// Deploy starts deploying req.Version of req.Service and returns the
// operation id at once; follow it with Subscribe.
func (c *Controller) Deploy(ctx context.Context, req DeployRequest) (string, error) {
	if err := validVersion(req.Version); err != nil {
		return "", err
	}
	s, err := c.service(req.Service)
	if err != nil {
		return "", err
	}
	if err := CheckFiles(s.config(), req.Version); err != nil {
		return "", err
	}
	return s.startDeploy(req)
}

// Rollback switches a service back to its warm standby at once, or deploys
// the previous (or requested) version through the normal health gate.
func (c *Controller) Rollback(ctx context.Context, req RollbackRequest) (string, error) {
	if req.To != "" {
		if err := validVersion(req.To); err != nil {
			return "", err
		}
	}
	s, err := c.service(req.Service)
	if err != nil {
		return "", err
	}
	return s.startRollback(req, "requested by user")
}

// Promote ends a standby window now (retiring the old version) or, during a
// canary, promotes the canary to all traffic.
func (c *Controller) Promote(ctx context.Context, service string) error {
	s, err := c.service(service)
	if err != nil {
		return err
	}
	return s.promote()
}

// Abort stops the operation in progress; traffic goes back to where it was.
func (c *Controller) Abort(ctx context.Context, service string) error {
	s, err := c.service(service)
	if err != nil {
		return err
	}
	return s.abort()
}

// Pause holds a canary at its current weight.
func (c *Controller) Pause(ctx context.Context, service string) error {
	s, err := c.service(service)
	if err != nil {
		return err
	}
	return s.control(ctrlMsg{kind: ctrlPause})
}

// Resume continues a paused canary.
func (c *Controller) Resume(ctx context.Context, service string) error {
	s, err := c.service(service)
	if err != nil {
		return err
	}
	return s.control(ctrlMsg{kind: ctrlResume})
}

// SetWeight sets a canary's traffic percentage by hand and pauses its steps.
func (c *Controller) SetWeight(ctx context.Context, service string, percent float64) error {
	if percent < 0 || percent > 100 || percent != percent {
		return fmt.Errorf("%w: weight %v: give a percentage from 0 to 100", ErrInvalid, percent)
	}
	s, err := c.service(service)
	if err != nil {
		return err
	}
	return s.control(ctrlMsg{kind: ctrlWeight, weight: percent})
}

// Status returns one service's status.
func (c *Controller) Status(ctx context.Context, name string) (ServiceStatus, error) {
	s, err := c.service(name)
	if err != nil {
		c.mu.Lock()
		badErr, bad := c.bad[name]
		c.mu.Unlock()
		if bad {
			return ServiceStatus{Name: name, Error: badErr.Error()}, nil
		}
		return ServiceStatus{}, err
	}
	return s.status(), nil
}

// StatusAll returns every service's status, including services whose stored
// state is unreadable (with Error set).
func (c *Controller) StatusAll(ctx context.Context) ([]ServiceStatus, error) {
	c.mu.Lock()
	svcs := c.serviceList()
	bad := make(map[string]error, len(c.bad))
	for k, v := range c.bad {
		bad[k] = v
	}
	c.mu.Unlock()
	out := make([]ServiceStatus, 0, len(svcs)+len(bad))
	for _, s := range svcs {
		out = append(out, s.status())
	}
	for name, err := range bad {
		out = append(out, ServiceStatus{Name: name, Error: err.Error()})
	}
	return out, nil
}

// History returns up to limit finished operations of a service, newest first.
func (c *Controller) History(ctx context.Context, service string, limit int) ([]store.HistoryRecord, error) {
	if _, err := c.service(service); err != nil && !errors.Is(err, ErrInvalid) {
		return nil, err
	}
	return c.opts.Store.History(ctx, service, limit)
}

// Subscribe follows events: of one operation (replayed from its start) when
// opID is set, else of every operation of service ("" = all services).
func (c *Controller) Subscribe(service, opID string) (<-chan Event, func(), error) {
	ch, cancel, ok := c.bus.subscribe(service, opID)
	if !ok {
		return nil, nil, fmt.Errorf("%w: operation %q is unknown or too old to follow", ErrInvalid, opID)
	}
	return ch, cancel, nil
}

// ErrLiveRemoval is returned by Reload when the new config drops a service
// that has a live release and ReloadOptions.AllowRemove is not set.
var ErrLiveRemoval = errors.New("reload would remove a live service")

// ReloadOptions tunes Reload.
type ReloadOptions struct {
	// AllowRemove lets a reload retire services that still serve a release.
	AllowRemove bool
}

// Reload applies a new configuration: services added are routed, services
// changed get their new routing and settings (running instances keep
// running; new settings apply from the next deploy), services removed are
// retired. A config that drops a service with an active release is refused
// with ErrLiveRemoval (naming the services) unless opts.AllowRemove is set;
// nothing changes then.
func (c *Controller) Reload(ctx context.Context, cfg *config.Config, opts ReloadOptions) error {
	if c.suspended.Load() {
		return fmt.Errorf("%w: cutover is handing over to a new process (an upgrade); reload once it serves", ErrBusy)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return fmt.Errorf("%w: controller is shutting down", ErrBusy)
	}
	old := c.services
	if !opts.AllowRemove {
		var live []string
		for name, s := range old {
			if _, kept := cfg.Services[name]; !kept && s.isLive() {
				live = append(live, name)
			}
		}
		if len(live) > 0 {
			c.mu.Unlock()
			sort.Strings(live)
			return fmt.Errorf("%w: %s still serves traffic; put it back in the config (to rename a service, "+
				"deploy under the new name first), or reload with --allow-remove to retire it", ErrLiveRemoval, strings.Join(live, ", "))
		}
	}
	c.cfg = cfg
	var removed []*service
	next := make(map[string]*service, len(cfg.Services))
	for _, name := range cfg.ServiceOrder {
		sc := cfg.Services[name]
		if s, ok := old[name]; ok {
			s.setConfig(sc)
			next[name] = s
			continue
		}
		s := newService(c, sc)
		s.st = store.ServiceState{Name: name}
		next[name] = s
	}
	for name, s := range old {
		if _, ok := next[name]; !ok {
			removed = append(removed, s)
		}
	}
	c.services = next
	c.mu.Unlock()

	for _, s := range next {
		if err := s.publishRoute(); err != nil {
			c.log.Error("route service after reload", "service", s.name, "err", err)
		}
	}
	for _, s := range removed {
		c.log.Warn("service removed from config, retiring it", "service", s.name)
		s.stopTimers()
		if !c.goBackground(func() { s.retireAll(c.ctx, "removed from config") }) {
			c.log.Warn("controller closed before the removed service was retired; the next start stops its instances", "service", s.name)
		}
	}
	return nil
}

// isLive reports whether s has a release that receives traffic.
func (s *service) isLive() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.Active != nil || s.st.Candidate != nil
}

// RetireAll drains and stops every instance of every service and forgets
// their state. The demo uses it to leave nothing behind.
func (c *Controller) RetireAll(ctx context.Context) {
	c.mu.Lock()
	svcs := c.serviceList()
	c.mu.Unlock()
	for _, s := range svcs {
		s.stopTimers()
		s.retireAll(ctx, "shutting down")
	}
}
