package deploy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/health"
	"github.com/cutover-dev/cutover/internal/proxy"
	"github.com/cutover-dev/cutover/internal/runtime"
	"github.com/cutover-dev/cutover/internal/store"
)

// service is the state machine of one service.
//
// Two locks guard it. mu guards cfg, st, op and the standby timer and is
// only ever held for memory access, so readers such as status never wait on
// the disk. wmu sequences the writes: it is held from reading the state a
// decision starts from, through the store write (and its fsync), to making
// the result the current state and publishing its routing, so the persisted
// order is the decision order and every decision is recorded before it is
// acted on. wmu is taken before mu, never while mu is held. Events are
// published outside both.
type service struct {
	c    *Controller
	name string

	wmu sync.Mutex

	mu           sync.Mutex
	cfg          *config.Service
	st           store.ServiceState
	op           *opRun
	standbyTimer *time.Timer
	// restore names the version to bring back after a rolling update
	// that a restart interrupted, once the instances it had started and
	// not yet routed (restoreWait) are stopped. Set and read only during
	// Start.
	restore     string
	restoreWait map[string]bool
	// retired is closed (and cleared) when a retirement ends.
	retired chan struct{}
	// watching are the instances serveRecorded watches already.
	watching map[string]bool
	// retiringNow are the instances a retirement of this process stops.
	retiringNow map[string]bool
}

func newService(c *Controller, sc *config.Service) *service {
	return &service{c: c, name: sc.Name, cfg: sc}
}

func (s *service) setConfig(sc *config.Service) {
	s.mu.Lock()
	s.cfg = sc
	s.mu.Unlock()
}

func (s *service) config() *config.Service {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg
}

func (s *service) state() store.ServiceState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneState(s.st)
}

// persist applies mutate to a copy of the state, writes it, and only then
// makes it the current state. It is how every decision is recorded before
// it is acted on. It takes wmu; the caller must not hold wmu or mu.
func (s *service) persist(ctx context.Context, mutate func(*store.ServiceState)) (store.ServiceState, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.persistSeq(ctx, mutate)
}

// persistSeq is persist for a caller that holds wmu.
func (s *service) persistSeq(ctx context.Context, mutate func(*store.ServiceState)) (store.ServiceState, error) {
	return s.writeSeq(ctx, mutate, true)
}

// writeSeq is persistSeq; with checked false it skips the transition
// check, for restoring a state that was recorded before. The caller holds
// wmu, so the state cannot change between reading it and replacing it; mu
// is held only to copy it and to replace it, not during the write.
func (s *service) writeSeq(ctx context.Context, mutate func(*store.ServiceState), checked bool) (store.ServiceState, error) {
	cur := s.state()
	if s.c.suspended.Load() {
		return cur, fmt.Errorf("persist state of %s: %w", s.name, ErrSuspended)
	}
	next := cloneState(cur)
	mutate(&next)
	if checked {
		if err := checkOpTransition(cur.Op, next.Op); err != nil {
			return cur, fmt.Errorf("persist state of %s: %w", s.name, err)
		}
	}
	next.Name = s.name
	next.Generation = cur.Generation + 1
	// Persisting must not be cut short by a cancelled operation: a
	// decision half-taken is worse than one taken late.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := s.c.opts.Store.Put(wctx, next); err != nil {
		return cur, fmt.Errorf("persist state of %s: %w", s.name, err)
	}
	out := cloneState(next)
	s.mu.Lock()
	s.st = next
	s.mu.Unlock()
	return out, nil
}

// checkOpTransition checks a change of the recorded operation against the
// transition table: an operation replaced by another one ends, and the new
// one begins from store.PhaseNone.
func checkOpTransition(prev, next *store.Operation) error {
	from, to := store.PhaseNone, store.PhaseNone
	if prev != nil && next != nil && prev.ID == next.ID {
		from = prev.Phase
	}
	if next != nil {
		to = next.Phase
	}
	if err := store.CheckTransition(from, to); err != nil {
		return fmt.Errorf("operation %s: %w", next.ID, err)
	}
	return nil
}

func cloneRelease(r *store.Release) *store.Release {
	if r == nil {
		return nil
	}
	c := *r
	c.Instances = append([]runtime.Instance(nil), r.Instances...)
	return &c
}

func cloneState(st store.ServiceState) store.ServiceState {
	c := st
	c.Active = cloneRelease(st.Active)
	c.Candidate = cloneRelease(st.Candidate)
	c.Standby = cloneRelease(st.Standby)
	c.Versions = append([]string(nil), st.Versions...)
	if st.Retiring != nil {
		c.Retiring = make([]store.Retirement, len(st.Retiring))
		for i, r := range st.Retiring {
			r.Instances = append([]runtime.Instance(nil), r.Instances...)
			c.Retiring[i] = r
		}
	}
	if st.Op != nil {
		op := *st.Op
		op.Started = append([]runtime.Instance(nil), st.Op.Started...)
		c.Op = &op
	}
	return c
}

// routeSpec builds the proxy's view of the service from a state.
func routeSpec(sc *config.Service, st store.ServiceState) proxy.ServiceSpec {
	spec := proxy.ServiceSpec{
		Name:                  sc.Name,
		Hosts:                 sc.Hosts,
		PathPrefix:            sc.PathPrefix,
		StripPrefix:           sc.StripPrefix,
		Balance:               balanceOf(sc.Balance),
		StickyCookie:          sc.Sticky.Cookie,
		StickyHeader:          sc.Sticky.Header,
		ForceHeader:           sc.Force.Header,
		ForceCookie:           sc.Force.Cookie,
		MaxBodyBytes:          sc.MaxBodyBytes,
		BodyReadTimeout:       sc.BodyTimeout(),
		MinBodyRate:           sc.BodyRate(),
		BufferRequests:        sc.BufferRequests,
		ResponseHeaderTimeout: sc.ResponseHeaderTimeout.D(),
		Gateway:               gatewayOf(sc),
		Compression:           compressionOf(sc.Compression),
		Files:                 filesOf(sc, st),
	}
	if st.Active != nil {
		spec.Active = setOf(st.Active)
	}
	if st.Candidate != nil && len(st.Candidate.Instances) > 0 {
		cand := setOf(st.Candidate)
		spec.Candidate = &cand
		if st.Op != nil {
			spec.Weight = st.Op.Weight
		}
		if st.Active == nil || len(st.Active.Instances) == 0 {
			spec.Active, spec.Candidate, spec.Weight = cand, nil, 0
		}
	}
	return spec
}

func setOf(r *store.Release) proxy.Set {
	set := proxy.Set{Version: r.Version, Targets: make([]proxy.TargetSpec, 0, len(r.Instances))}
	for _, in := range r.Instances {
		set.Targets = append(set.Targets, proxy.TargetSpec{ID: in.ID, Addr: in.Addr})
	}
	return set
}

func balanceOf(s string) proxy.Balance {
	if s == "round_robin" {
		return proxy.RoundRobin
	}
	return proxy.LeastInFlight
}

// publishRoute publishes the current state's routing, in order with the
// tables that writes publish.
func (s *service) publishRoute() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	spec := routeSpec(s.cfg, s.st)
	s.mu.Unlock()
	return s.route(spec)
}

// route publishes spec, or takes the service out of the routing table while
// it has no version to serve.
func (s *service) route(spec proxy.ServiceSpec) error {
	if spec.Active.Version == "" {
		s.c.opts.Agent.Unroute(s.name)
		return nil
	}
	return s.c.opts.Agent.Route(spec)
}

func (s *service) check() (health.Check, error) {
	return health.CheckFromConfig(s.config().Health)
}

// watchRelease starts continuous health checks of a release's instances.
func (s *service) watchRelease(r *store.Release, healthy bool) {
	if r == nil {
		return
	}
	chk, err := s.check()
	if err != nil {
		s.c.log.Error("health check config", "service", s.name, "err", err)
		return
	}
	for _, in := range r.Instances {
		s.c.opts.Agent.Watch(in, chk, healthy)
	}
}

// status renders the service for status.
func (s *service) status() ServiceStatus {
	s.mu.Lock()
	st := cloneState(s.st)
	sc := s.cfg
	s.mu.Unlock()
	out := ServiceStatus{Name: s.name, Strategy: sc.Strategy, Runtime: sc.Runtime, Op: st.Op, StandbyUntil: st.StandbyUntil}
	out.Active = s.releaseStatus(st.Active)
	out.Candidate = s.releaseStatus(st.Candidate)
	out.Standby = s.releaseStatus(st.Standby)
	for _, r := range st.Retiring {
		rs := s.releaseStatus(&store.Release{Version: r.Version, Instances: r.Instances, Since: r.Since})
		by := r.Since.Add(sc.StopGrace.D())
		if r.Drain {
			by = by.Add(sc.DrainTimeout.D())
		}
		out.Retiring = append(out.Retiring, RetiringStatus{ReleaseStatus: *rs, Reason: r.Reason, By: by})
	}
	if st.Op != nil {
		out.Weight = st.Op.Weight
	}
	if st.Candidate != nil && st.Active != nil && s.c.opts.Metrics != nil && st.Op != nil && st.Op.Phase == store.PhaseCanary {
		cmp := s.compare(sc, st.Active.Version, st.Candidate.Version, st.Op.StartedAt)
		out.Canary = &cmp
	}
	return out
}

func (s *service) releaseStatus(r *store.Release) *ReleaseStatus {
	if r == nil {
		return nil
	}
	rs := &ReleaseStatus{Version: r.Version, Since: r.Since}
	for _, in := range r.Instances {
		rs.Instances = append(rs.Instances, InstanceStatus{
			ID: in.ID, Addr: in.Addr, PID: in.PID, LogPath: in.LogPath,
			Healthy:  s.c.opts.Agent.Healthy(in.ID),
			InFlight: s.c.opts.Agent.InFlight(in.ID),
		})
	}
	return rs
}

func (s *service) stopTimers() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.standbyTimer != nil {
		s.standbyTimer.Stop()
		s.standbyTimer = nil
	}
}

// instanceRole reports which release of the service holds instance id
// ("active", "candidate", "standby"), or "" when none does.
func (s *service) instanceRole(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for role, r := range map[string]*store.Release{"active": s.st.Active, "candidate": s.st.Candidate, "standby": s.st.Standby} {
		if r == nil {
			continue
		}
		for _, in := range r.Instances {
			if in.ID == id {
				return role
			}
		}
	}
	return ""
}

// gatewayOf returns the proxy's view of the service's redirects and
// header changes (nil when it has none).
func gatewayOf(sc *config.Service) *proxy.Gateway {
	g := &proxy.Gateway{
		HTTPSRedirect: sc.HTTPSRedirect,
		CanonicalHost: sc.CanonicalHost,
		Request:       headerOps(sc.Headers.Request),
		Response:      headerOps(sc.Headers.Response),
	}
	if sc.HSTS != nil {
		g.HSTS = sc.HSTS.Header()
	}
	for _, rd := range sc.Redirects {
		g.Redirects = append(g.Redirects, proxy.Redirect{From: rd.From, To: rd.To, Status: rd.Status})
	}
	if !g.HTTPSRedirect && g.HSTS == "" && g.CanonicalHost == "" && len(g.Redirects) == 0 &&
		len(g.Request.Set)+len(g.Request.Remove)+len(g.Response.Set)+len(g.Response.Remove) == 0 {
		return nil
	}
	return g
}

// compressionOf maps a service's compression block (nil when off).
func compressionOf(c *config.Compression) *proxy.Compression {
	if !c.On() {
		return nil
	}
	pc := &proxy.Compression{Encodings: c.Algorithms, MinSize: c.MinSize, ContentTypes: c.Types}
	if pc.MinSize == 0 {
		pc.MinSize = 1 // every body; the proxy reads 0 as its default
	}
	return pc
}

func headerOps(o config.HeaderOps) proxy.HeaderOps {
	var out proxy.HeaderOps
	for k, v := range o.Set {
		if out.Set == nil {
			out.Set = http.Header{}
		}
		out.Set[http.CanonicalHeaderKey(k)] = []string{v}
	}
	for _, k := range o.Remove {
		out.Remove = append(out.Remove, http.CanonicalHeaderKey(k))
	}
	return out
}

// filesOf returns the service's file routes with the directory of each
// version routed, and the standby's as the fallback.
func filesOf(sc *config.Service, st store.ServiceState) []proxy.FileRoute {
	if len(sc.Files) == 0 {
		return nil
	}
	out := make([]proxy.FileRoute, 0, len(sc.Files))
	for _, f := range sc.Files {
		fr := proxy.FileRoute{Prefix: f.Path, Roots: map[string]string{}, Index: f.Index, SPA: f.SPA}
		for _, c := range f.Cache {
			fr.Cache = append(fr.Cache, proxy.CacheRule{Match: c.Match, Value: c.Value})
		}
		for _, r := range []*store.Release{st.Active, st.Candidate} {
			if r != nil {
				fr.Roots[r.Version] = filesRoot(sc, f, r.Version)
			}
		}
		if sb := st.Standby; sb != nil && strings.Contains(f.Root, "{{") {
			if root := filesRoot(sc, f, sb.Version); !slices.Contains(slices.Collect(maps.Values(fr.Roots)), root) {
				fr.Fallback = append(fr.Fallback, root)
			}
		}
		out = append(out, fr)
	}
	return out
}

// filesRoot renders a files block's directory for version ("" when the
// template fails, which validation rules out).
func filesRoot(sc *config.Service, f config.Files, version string) string {
	root, err := config.Render(f.Root, config.TemplateData{Version: version, Service: sc.Name})
	if err != nil {
		return ""
	}
	return root
}

// CheckFiles reports a files directory version does not have: a deploy
// of a version whose files are missing would serve 404 for them.
func CheckFiles(sc *config.Service, version string) error {
	for i, f := range sc.Files {
		root := filesRoot(sc, f, version)
		fi, err := os.Stat(root)
		if err == nil && fi.IsDir() {
			continue
		}
		if err == nil {
			err = errors.New("not a directory")
		}
		return fmt.Errorf("%w: services.%s.files[%d].root for %s: %s: %v; put the version's files there before deploying it", ErrInvalid, sc.Name, i, version, root, err)
	}
	return nil
}
