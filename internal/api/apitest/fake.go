// Package apitest provides Fake, an in-memory api.Backend for tests of the
// admin API server and of its clients.
package apitest

import (
	"context"
	"fmt"
	"sync"

	"github.com/cutover-dev/cutover/internal/api"
	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/deploy"
	"github.com/cutover-dev/cutover/internal/store"
)

// Call is one recorded Backend call.
type Call struct {
	// Method is the Backend method name, e.g. "Deploy".
	Method string
	// Service is the service the call named ("" for StatusAll and Reload).
	Service string
	// Arg is the call's other argument: the request, the percent or the limit.
	Arg any
}

// Fake is an api.Backend that serves canned statuses and history, records
// every call, fails a method on request and plays scripted event sequences.
// Its zero value is not usable; use NewFake. It is safe for concurrent use.
type Fake struct {
	mu       sync.Mutex
	services []deploy.ServiceStatus
	history  map[string][]store.HistoryRecord
	errs     map[string]error
	errTimes map[string]int // calls left that errs fails; 0: every call
	scripts  map[string][]deploy.Event
	ops      map[string][]deploy.Event
	subs     map[*subscriber]struct{}
	changed  chan struct{} // closed and replaced when subs changes
	calls    []Call
	nextOp   int
	reload   config.Changes
	config   *config.Config
	logs     map[string]string // by "service@version"
}

type subscriber struct {
	service, op string
	ch          chan deploy.Event
}

// subscriberBuffer is how many events a subscriber may lag behind before
// Fake drops events for it.
const subscriberBuffer = 1024

// NewFake returns a Fake serving the given services (in that order). A call
// naming a service not among them fails with deploy.ErrUnknownService.
func NewFake(services ...deploy.ServiceStatus) *Fake {
	return &Fake{
		services: services,
		history:  map[string][]store.HistoryRecord{},
		errs:     map[string]error{},
		errTimes: map[string]int{},
		scripts:  map[string][]deploy.Event{},
		ops:      map[string][]deploy.Event{},
		subs:     map[*subscriber]struct{}{},
		changed:  make(chan struct{}),
	}
}

// SetHistory sets the records History returns for service, newest first.
func (f *Fake) SetHistory(service string, recs []store.HistoryRecord) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.history[service] = recs
}

// FailWith makes every later call of the Backend method named method (e.g.
// "Deploy") return err; a nil err clears it.
func (f *Fake) FailWith(method string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs[method] = err
	delete(f.errTimes, method)
}

// FailTimes makes the next n calls of the Backend method named method
// return err; later calls succeed again.
func (f *Fake) FailTimes(method string, err error, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs[method] = err
	f.errTimes[method] = n
}

// Script sets the events published when Deploy or Rollback (kind "deploy"
// or "rollback") starts an operation. Their OpID and Service are filled in.
func (f *Fake) Script(kind string, events []deploy.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scripts[kind] = events
}

// Calls returns the calls recorded so far, in order.
func (f *Fake) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Call(nil), f.calls...)
}

// Subscribers returns the number of open subscriptions.
func (f *Fake) Subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

// WaitSubscribers blocks until exactly n subscriptions are open or ctx is done.
func (f *Fake) WaitSubscribers(ctx context.Context, n int) error {
	for {
		f.mu.Lock()
		count, changed := len(f.subs), f.changed
		f.mu.Unlock()
		if count == n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d subscribers (have %d): %w", n, count, ctx.Err())
		}
	}
}

// Publish records ev as part of its operation and delivers it to matching
// subscribers. A subscription to the operation is closed after EventDone.
func (f *Fake) Publish(ev deploy.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.publishLocked(ev)
}

func (f *Fake) publishLocked(ev deploy.Event) {
	f.ops[ev.OpID] = append(f.ops[ev.OpID], ev)
	for s := range f.subs {
		if s.op != "" && s.op != ev.OpID || s.op == "" && s.service != "" && s.service != ev.Service {
			continue
		}
		select {
		case s.ch <- ev:
		default:
		}
		if s.op != "" && ev.Type == deploy.EventDone {
			f.removeLocked(s)
		}
	}
}

func (f *Fake) removeLocked(s *subscriber) {
	if _, ok := f.subs[s]; !ok {
		return
	}
	delete(f.subs, s)
	close(s.ch)
	close(f.changed)
	f.changed = make(chan struct{})
}

// record notes a call and returns the error to fail it with, if any.
func (f *Fake) record(method, service string, arg any) error {
	f.calls = append(f.calls, Call{Method: method, Service: service, Arg: arg})
	if err := f.errs[method]; err != nil {
		if n, counted := f.errTimes[method]; counted {
			if n <= 1 {
				delete(f.errs, method)
				delete(f.errTimes, method)
			} else {
				f.errTimes[method] = n - 1
			}
		}
		return err
	}
	if service != "" && !f.knownLocked(service) {
		return fmt.Errorf("%w: %q", deploy.ErrUnknownService, service)
	}
	return nil
}

func (f *Fake) knownLocked(service string) bool {
	for _, s := range f.services {
		if s.Name == service {
			return true
		}
	}
	return false
}

// start begins a scripted operation and returns its id.
func (f *Fake) start(kind, service string) string {
	f.nextOp++
	id := fmt.Sprintf("op-%d", f.nextOp)
	for _, ev := range f.scripts[kind] {
		ev.OpID, ev.Service = id, service
		f.publishLocked(ev)
	}
	return id
}

// Deploy records the call and starts the "deploy" script.
func (f *Fake) Deploy(_ context.Context, req deploy.DeployRequest) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("Deploy", req.Service, req); err != nil {
		return "", err
	}
	return f.start("deploy", req.Service), nil
}

// Rollback records the call and starts the "rollback" script.
func (f *Fake) Rollback(_ context.Context, req deploy.RollbackRequest) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("Rollback", req.Service, req); err != nil {
		return "", err
	}
	return f.start("rollback", req.Service), nil
}

func (f *Fake) simple(method, service string, arg any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.record(method, service, arg)
}

// Promote records the call.
func (f *Fake) Promote(_ context.Context, service string) error {
	return f.simple("Promote", service, nil)
}

// Abort records the call.
func (f *Fake) Abort(_ context.Context, service string) error { return f.simple("Abort", service, nil) }

// Pause records the call.
func (f *Fake) Pause(_ context.Context, service string) error { return f.simple("Pause", service, nil) }

// Resume records the call.
func (f *Fake) Resume(_ context.Context, service string) error {
	return f.simple("Resume", service, nil)
}

// SetWeight records the call.
func (f *Fake) SetWeight(_ context.Context, service string, percent float64) error {
	return f.simple("SetWeight", service, percent)
}

// Reload records the call (with opts as Arg) and returns the changes set
// with SetReload.
func (f *Fake) Reload(_ context.Context, opts deploy.ReloadOptions) (config.Changes, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("Reload", "", opts); err != nil {
		return config.Changes{}, err
	}
	return f.reload, nil
}

// SetReload sets what Reload returns.
func (f *Fake) SetReload(ch config.Changes) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reload = ch
}

// Config records the call and returns the config set with SetConfig, or
// an error when none is set.
func (f *Fake) Config(context.Context) (*config.Config, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("Config", "", nil); err != nil {
		return nil, err
	}
	if f.config == nil {
		return nil, fmt.Errorf("%w: no config set on the fake", deploy.ErrInvalid)
	}
	return f.config, nil
}

// SetConfig sets what Config returns.
func (f *Fake) SetConfig(c *config.Config) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.config = c
}

// Status returns the canned status of service.
func (f *Fake) Status(_ context.Context, service string) (deploy.ServiceStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("Status", service, nil); err != nil {
		return deploy.ServiceStatus{}, err
	}
	for _, s := range f.services {
		if s.Name == service {
			return s, nil
		}
	}
	return deploy.ServiceStatus{}, nil
}

// StatusAll returns every canned status.
func (f *Fake) StatusAll(context.Context) ([]deploy.ServiceStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("StatusAll", "", nil); err != nil {
		return nil, err
	}
	return append([]deploy.ServiceStatus(nil), f.services...), nil
}

// History returns up to limit canned records of service (limit ≤ 0: all).
func (f *Fake) History(_ context.Context, service string, limit int) ([]store.HistoryRecord, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("History", service, limit); err != nil {
		return nil, err
	}
	recs := f.history[service]
	if limit > 0 && len(recs) > limit {
		recs = recs[:limit]
	}
	return append([]store.HistoryRecord(nil), recs...), nil
}

// Subscribe replays the events of operation op published so far and
// follows it, or follows every later event of service (all services when
// service is "") when op is "".
func (f *Fake) Subscribe(service, op string) (<-chan deploy.Event, func(), error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("Subscribe", service, op); err != nil {
		return nil, nil, err
	}
	s := &subscriber{service: service, op: op, ch: make(chan deploy.Event, subscriberBuffer)}
	f.subs[s] = struct{}{}
	close(f.changed)
	f.changed = make(chan struct{})
	if op != "" {
		for _, ev := range f.ops[op] {
			s.ch <- ev
			if ev.Type == deploy.EventDone {
				f.removeLocked(s)
				break
			}
		}
	}
	cancel := func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.removeLocked(s)
	}
	return s.ch, cancel, nil
}

var _ api.Backend = (*Fake)(nil)
