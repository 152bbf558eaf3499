package fleet

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/deploy"
	"github.com/cutover-dev/cutover/internal/metrics"
)

// fakeHost is a Host that keeps versions in memory, for protocol tests:
// what matters here is when the agent calls what, not how instances run.
// The controller behind the real Host is tested in internal/deploy and
// end to end.
type fakeHost struct {
	name string

	mu       sync.Mutex
	applied  map[string]string
	standby  map[string]string
	prepared map[string]string // deploy id → version started
	// held are plans kept prepared across a restart (PreparedHost).
	held   []Plan
	digest string
	fields map[string]string
	// failPrepare makes Prepare of a version fail; hangPrepare makes it
	// wait for its context.
	failPrepare map[string]string
	hangPrepare map[string]bool
	// log records calls as "prepare d v", "commit d v", "abort d", "converge s v".
	log      []call
	events   []deploy.Event
	changed  chan struct{}
	services []string

	// A canary: the weight routed per deploy id, how many numbers reports
	// were taken, the canary's error rate and settings.
	weights     map[string]float64
	reports     map[string]int
	canaryErr   float64
	canaryCfg   config.Canary
	unhealthyIn string
}

type call struct {
	what string
	at   time.Time
}

func newFakeHost(name string, services ...string) *fakeHost {
	if len(services) == 0 {
		services = []string{"web"}
	}
	return &fakeHost{
		name: name, applied: map[string]string{}, standby: map[string]string{}, prepared: map[string]string{},
		digest: "d1", fields: map[string]string{"health": "h1", "process": "p1"},
		failPrepare: map[string]string{}, hangPrepare: map[string]bool{}, changed: make(chan struct{}), services: services,
		weights: map[string]float64{}, reports: map[string]int{},
		canaryCfg: config.Canary{Steps: []float64{10, 50}, MinRequests: 100, Confidence: 0.99, MaxErrorRateIncrease: 1,
			MaxLatencyIncrease: 20, MinLatencyIncrease: config.Duration(5 * time.Millisecond), MaxStepDuration: config.Duration(time.Minute)},
	}
}

func (h *fakeHost) SetCanaryWeight(_ context.Context, p Plan, w float64) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.weights[p.ID] = w
	h.record("weight %s %g", p.ID, w)
	return nil
}

// CanaryStats reports 200 requests a report split by the weight, all at
// 5 ms; the canary fails canaryErr of its requests.
func (h *fakeHost) CanaryStats(p Plan) (base, can metrics.Stats, unhealthy string, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	w, ok := h.weights[p.ID]
	if !ok {
		return base, can, "", false
	}
	h.reports[p.ID]++
	n := int64(h.reports[p.ID]) * 200
	fill := func(st *metrics.Stats, reqs int64, errRate float64) {
		st.Requests = reqs
		st.Status5xx = int64(float64(reqs) * errRate)
		st.Status2xx = reqs - st.Status5xx
		st.Latency.Counts[metrics.BucketOf(5*time.Millisecond)] = uint64(reqs)
		st.Latency.Total = uint64(reqs)
		st.Latency.Sum = time.Duration(reqs) * 5 * time.Millisecond
	}
	fill(&base, int64(float64(n)*(100-w)/100), 0)
	fill(&can, int64(float64(n)*w/100), h.canaryErr)
	return base, can, h.unhealthyIn, true
}

func (h *fakeHost) CanaryConfig(string) (config.Canary, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.canaryCfg, nil
}

func (h *fakeHost) record(format string, args ...any) {
	h.log = append(h.log, call{what: fmt.Sprintf(format, args...), at: time.Now()})
	close(h.changed)
	h.changed = make(chan struct{})
}

func (h *fakeHost) Services() []string { return h.services }

func (h *fakeHost) ConfigDigest(string) (string, map[string]string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.digest, h.fields, nil
}

func (h *fakeHost) Prepare(ctx context.Context, p Plan) error {
	h.mu.Lock()
	h.record("prepare %s %s", p.ID, p.Version)
	fail, hang := h.failPrepare[p.Version], h.hangPrepare[p.Version]
	h.mu.Unlock()
	if hang {
		<-ctx.Done()
		return ctx.Err()
	}
	if fail != "" {
		return errors.New(fail)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.standby[p.Service] != p.Version {
		h.prepared[p.ID] = p.Version
	}
	h.record("prepared %s %s", p.ID, p.Version)
	return nil
}

func (h *fakeHost) Commit(_ context.Context, p Plan) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.standby[p.Service] = h.applied[p.Service]
	h.applied[p.Service] = p.Version
	delete(h.prepared, p.ID)
	delete(h.weights, p.ID)
	h.dropHeld(func(x Plan) bool { return x.ID != p.ID })
	h.record("commit %s %s", p.ID, p.Version)
	return nil
}

func (h *fakeHost) Settle(context.Context, Plan) error { return nil }

// Prepared implements PreparedHost.
func (h *fakeHost) Prepared() []Plan {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Plan(nil), h.held...)
}

// dropHeld forgets held plans that keep says no to (under h.mu).
func (h *fakeHost) dropHeld(keep func(Plan) bool) {
	h.held = slices.DeleteFunc(h.held, func(p Plan) bool { return !keep(p) })
}

func (h *fakeHost) Abort(_ context.Context, p Plan, why string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.prepared, p.ID)
	delete(h.weights, p.ID)
	h.dropHeld(func(x Plan) bool { return x.ID != p.ID })
	h.record("abort %s", p.ID)
	return nil
}

func (h *fakeHost) Applied(svc string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.applied[svc]
}

func (h *fakeHost) Converge(_ context.Context, svc string, a Active) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.standby[svc] = h.applied[svc]
	h.applied[svc] = a.Version
	// Held plans of the service are used (same version) or removed.
	h.dropHeld(func(x Plan) bool { return x.Service != svc })
	h.record("converge %s %s", svc, a.Version)
	return nil
}

func (h *fakeHost) RetireStandby(_ context.Context, svc, version, _ string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.standby[svc] == version {
		delete(h.standby, svc)
	}
	h.record("retire %s %s", svc, version)
	return nil
}

func (h *fakeHost) Emit(ev deploy.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, ev)
	close(h.changed)
	h.changed = make(chan struct{})
}

// calls returns a copy of the call log.
func (h *fakeHost) calls() []call {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]call(nil), h.log...)
}

// waitFor waits until cond holds (evaluated under the host's lock).
func (h *fakeHost) waitFor(ctx context.Context, cond func(h *fakeHost) bool) error {
	for {
		h.mu.Lock()
		ok, ch := cond(h), h.changed
		h.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// done returns the done event of operation id once it is published.
func (h *fakeHost) done(ctx context.Context, id string) (deploy.Event, error) {
	var ev deploy.Event
	err := h.waitFor(ctx, func(h *fakeHost) bool {
		for _, e := range h.events {
			if e.OpID == id && e.Type == deploy.EventDone {
				ev = e
				return true
			}
		}
		return false
	})
	return ev, err
}
