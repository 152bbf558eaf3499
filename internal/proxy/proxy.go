package proxy

import (
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/cutover-dev/cutover/internal/metrics"
)

// Options configures a Proxy.
type Options struct {
	// Logger receives operational logs and, when AccessLog is set, one
	// record per request (default slog.Default()).
	Logger *slog.Logger
	// AccessLog turns the per-request access log on.
	AccessLog bool
	// TrustedProxies lists the client networks whose X-Forwarded-For,
	// X-Forwarded-Proto, X-Forwarded-Host and X-Request-Id headers are kept
	// (X-Forwarded-For is appended to). From any other client they are
	// replaced.
	TrustedProxies []netip.Prefix
	// Metrics receives per-version request metrics; nil records none.
	Metrics *metrics.Registry
}

// Proxy is cutover's reverse proxy. It is an http.Handler; its methods are
// safe for concurrent use. Changes to the routing table (Apply,
// UpdateService, RemoveService, SetWeight) are serialised and each publishes
// a whole new table atomically; requests in progress keep the table they
// started with.
type Proxy struct {
	log       *slog.Logger
	accessLog bool
	trusted   []netip.Prefix
	metrics   *metrics.Registry

	table    atomic.Pointer[table]
	reserved atomic.Pointer[reserved]
	// httpsPort is the HTTPS listener's port, for HTTPS redirects (0:
	// unknown, the redirect names no port).
	httpsPort atomic.Int32

	mu      sync.Mutex
	targets map[string]*target     // registry, shared across tables
	states  map[string]*setState   // keyed by service "\x00" version
	roots   map[string]*cachedRoot // open directories of file routes, by path
}

// New returns a Proxy with an empty routing table (every request gets 404)
// after validating opts.
func New(opts Options) (*Proxy, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	trusted := make([]netip.Prefix, 0, len(opts.TrustedProxies))
	for _, pfx := range opts.TrustedProxies {
		if !pfx.IsValid() {
			return nil, fmt.Errorf("%w: trusted proxy prefix %v is invalid", ErrInvalidOptions, pfx)
		}
		trusted = append(trusted, pfx.Masked())
	}
	p := &Proxy{
		log:       log,
		accessLog: opts.AccessLog,
		trusted:   trusted,
		metrics:   opts.Metrics,
		targets:   make(map[string]*target),
		states:    make(map[string]*setState),
	}
	p.table.Store(emptyTable)
	return p, nil
}

// Apply validates services and publishes them as the whole routing table in
// one atomic step. On error the previous table stays in place.
func (p *Proxy) Apply(services []ServiceSpec) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.publishLocked(services)
}

// UpdateService adds spec, or replaces the service of the same name, routes
// included, in one atomic step. On error the previous table stays in place.
func (p *Proxy) UpdateService(spec ServiceSpec) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	specs := append([]ServiceSpec(nil), p.table.Load().specs...)
	replaced := false
	for i := range specs {
		if specs[i].Name == spec.Name {
			specs[i] = spec
			replaced = true
			break
		}
	}
	if !replaced {
		specs = append(specs, spec)
	}
	return p.publishLocked(specs)
}

// RemoveService removes the named service and its routes; unknown names are
// ignored.
func (p *Proxy) RemoveService(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cur := p.table.Load().specs
	specs := make([]ServiceSpec, 0, len(cur))
	for _, s := range cur {
		if s.Name != name {
			specs = append(specs, s)
		}
	}
	if len(specs) == len(cur) {
		return
	}
	if err := p.publishLocked(specs); err != nil {
		// Removing a service cannot create a conflict; keep the old table.
		p.log.Error("remove service failed", "service", name, "err", err)
	}
}

// SetWeight sets the percentage (0–100) of users sent to the named
// service's candidate set.
func (p *Proxy) SetWeight(service string, percent float64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	specs := append([]ServiceSpec(nil), p.table.Load().specs...)
	for i := range specs {
		if specs[i].Name == service {
			specs[i].Weight = percent
			return p.publishLocked(specs)
		}
	}
	return fmt.Errorf("%w: %q", ErrUnknownService, service)
}

// SetHealthy records the health checker's verdict for a target. Reporting a
// target healthy also ends a passive ejection; reporting it unhealthy closes
// its idle upstream connections. Unknown IDs are remembered
// for when the target is added.
func (p *Proxy) SetHealthy(targetID string, healthy bool) {
	p.mu.Lock()
	t := p.targets[targetID]
	if t == nil {
		t = newTarget(targetID, "", p.log)
		p.targets[targetID] = t
	}
	p.mu.Unlock()
	if t.healthy.Swap(healthy) != healthy {
		p.log.Info("target health changed", "target", targetID, "healthy", healthy)
	}
	if !healthy {
		// An instance that failed its check or exited may have closed
		// them; recently used connections are not probed before reuse.
		t.closeIdle()
	}
	if healthy && t.ejected.Swap(false) {
		p.log.Info("target readmitted", "target", targetID)
	}
}

// InFlight returns the number of requests in flight on a target (0 for
// unknown IDs).
func (p *Proxy) InFlight(targetID string) int64 {
	p.mu.Lock()
	t := p.targets[targetID]
	p.mu.Unlock()
	if t == nil {
		return 0
	}
	return t.inflight.Load()
}

// publishLocked builds a table from specs and publishes it. Callers hold p.mu.
func (p *Proxy) publishLocked(specs []ServiceSpec) error {
	old := p.table.Load()
	norm, err := p.validateLocked(specs, old)
	if err != nil {
		return err
	}
	services := make([]*service, len(norm))
	for i := range norm {
		services[i] = p.buildServiceLocked(norm[i])
	}
	tbl, err := newTable(norm, services)
	if err != nil {
		return err
	}
	// A draining target listed again is taken back before the table that
	// lists it is visible: a request routed by the new table must never
	// find it still draining (a rollback to a standby whose drain after
	// the switch has not finished yet).
	p.undrainListedLocked(old, tbl)
	p.table.Store(tbl)
	p.reconcileLocked(old, tbl)
	return nil
}

// undrainListedLocked cancels the drain of targets tbl lists and old did
// not. Callers hold p.mu.
func (p *Proxy) undrainListedLocked(old, tbl *table) {
	oldRefs, refs := old.referenced(), tbl.referenced()
	for id := range refs {
		if t := p.targets[id]; t != nil && !oldRefs[id] && t.draining.Load() {
			p.undrainLocked(t)
		}
	}
}

// validateLocked normalises and validates specs against each other and the
// target registry.
func (p *Proxy) validateLocked(specs []ServiceSpec, cur *table) ([]ServiceSpec, error) {
	norm := make([]ServiceSpec, len(specs))
	names := make(map[string]bool, len(specs))
	addrs := make(map[string]string)
	curRefs := cur.referenced()
	for i, s := range specs {
		n := s.withDefaults()
		if err := n.validate(); err != nil {
			return nil, err
		}
		if names[n.Name] {
			return nil, fmt.Errorf("%w: %q", ErrDuplicateService, n.Name)
		}
		names[n.Name] = true
		for _, ts := range n.targetSpecs() {
			if a, ok := addrs[ts.ID]; ok && a != ts.Addr {
				return nil, fmt.Errorf("%w: target %q has addrs %q and %q", ErrTargetConflict, ts.ID, a, ts.Addr)
			}
			addrs[ts.ID] = ts.Addr
			if t := p.targets[ts.ID]; t != nil && t.addr != "" && t.addr != ts.Addr && curRefs[ts.ID] {
				return nil, fmt.Errorf("%w: target %q is serving at %q, not %q", ErrTargetConflict, ts.ID, t.addr, ts.Addr)
			}
		}
		norm[i] = n
	}
	return norm, nil
}

// targetSpecs lists the targets of both sets.
func (s *ServiceSpec) targetSpecs() []TargetSpec {
	if s.Candidate == nil {
		return s.Active.Targets
	}
	out := make([]TargetSpec, 0, len(s.Active.Targets)+len(s.Candidate.Targets))
	out = append(out, s.Active.Targets...)
	return append(out, s.Candidate.Targets...)
}

// buildServiceLocked turns a validated spec into a service, creating targets
// in the registry as needed.
func (p *Proxy) buildServiceLocked(spec ServiceSpec) *service {
	s := &service{name: spec.Name, spec: spec, matchPrefix: prefixForMatch(spec.PathPrefix),
		threshold: thresholdFor(spec.Weight)}
	s.files = p.compileFilesLocked(&spec)
	s.active = p.buildSetLocked(&spec, &spec.Active)
	if spec.Candidate != nil {
		s.candidate = p.buildSetLocked(&spec, spec.Candidate)
	}
	return s
}

func (p *Proxy) buildSetLocked(spec *ServiceSpec, set *Set) *targetSet {
	ts := &targetSet{
		version: set.Version,
		targets: make([]*target, len(set.Targets)),
		balance: spec.Balance,
		state:   p.stateLocked(spec.Name, set.Version),
		service: spec.Name,
		log:     p.log,
	}
	if p.metrics != nil {
		ts.series = p.metrics.Series(spec.Name, set.Version)
	}
	for i, tspec := range set.Targets {
		t := p.targets[tspec.ID]
		switch {
		case t == nil || (t.addr != "" && t.addr != tspec.Addr):
			t = newTarget(tspec.ID, tspec.Addr, p.log)
			p.targets[tspec.ID] = t
		case t.addr == "":
			t.addr = tspec.Addr
		}
		t.setHeaderTimeout(spec.ResponseHeaderTimeout)
		ts.targets[i] = t
	}
	return ts
}

func (p *Proxy) stateLocked(service, version string) *setState {
	key := service + "\x00" + version
	st := p.states[key]
	if st == nil {
		st = &setState{}
		p.states[key] = st
	}
	return st
}

// reconcileLocked updates the registry after tbl replaced old (targets
// listed again had their drain canceled before): drained targets no
// longer listed are forgotten, and state of vanished sets is dropped.
func (p *Proxy) reconcileLocked(old, tbl *table) {
	refs := tbl.referenced()
	for id, t := range p.targets {
		if refs[id] {
			continue
		}
		if t.drainDone {
			delete(p.targets, id)
		}
	}
	live := make(map[string]bool)
	for _, s := range tbl.services {
		live[s.name+"\x00"+s.active.version] = true
		if s.candidate != nil {
			live[s.name+"\x00"+s.candidate.version] = true
		}
	}
	for key := range p.states {
		if !live[key] {
			delete(p.states, key)
		}
	}
}

// referenced returns the IDs of the targets listed in t.
func (t *table) referenced() map[string]bool {
	refs := make(map[string]bool)
	for _, s := range t.services {
		for _, tg := range s.active.targets {
			refs[tg.id] = true
		}
		if s.candidate != nil {
			for _, tg := range s.candidate.targets {
				refs[tg.id] = true
			}
		}
	}
	return refs
}

// CloseIdleConnections closes the idle upstream connections of every known
// target. Requests in flight are not affected; call it after the listeners
// have shut down.
func (p *Proxy) CloseIdleConnections() {
	p.mu.Lock()
	targets := make([]*target, 0, len(p.targets))
	for _, t := range p.targets {
		targets = append(targets, t)
	}
	p.mu.Unlock()
	for _, t := range targets {
		t.closeIdle()
	}
}

// SetHTTPSPort tells the proxy the port of its HTTPS listener, which the
// HTTPS redirects of services name when it is not 443 (0: none).
func (p *Proxy) SetHTTPSPort(port int) { p.httpsPort.Store(int32(port)) }
