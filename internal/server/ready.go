package server

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/cutover-dev/cutover/internal/fleet"
)

// readyWait bounds how long a load balancer's probe of the ready path
// waits, while cutover starts, for this host's fleet member to run and to
// become ready, so that a restart or an upgrade (a few hundred
// milliseconds) does not turn the probe to 503 and make the balancer drop
// the host.
const readyWait = 3 * time.Second

// readyPoll is how often a waiting probe looks at the member's readiness.
const readyPoll = 10 * time.Millisecond

// readyGate serves fleet.ReadyPath from the first moments of a serve.
// Until the fleet member runs, and then until it is ready or readyWait has
// passed since it started, a probe waits (at most readyWait) for it
// instead of being answered 503; after that the member answers at once.
// freeze makes it answer, for the rest of the process, what the member
// said when the process handed over to its successor. Its methods are
// safe for concurrent use.
type readyGate struct {
	host string // this host's name in the fleet

	mu      sync.Mutex
	member  *fleet.Agent
	since   time.Time     // when member was set
	settled bool          // the member was ready once, or readyWait passed
	set     chan struct{} // closed when member is set
	frozen  http.Handler
}

func newReadyGate(host string) *readyGate { return &readyGate{host: host, set: make(chan struct{})} }

// setMember hands the ready path to the running fleet member (a new one
// after a failed upgrade: probes wait for it as at start).
func (g *readyGate) setMember(m *fleet.Agent) {
	g.mu.Lock()
	defer g.mu.Unlock()
	first := g.member == nil
	g.member, g.since, g.settled = m, time.Now(), false
	if first {
		close(g.set)
	}
}

// unfreeze undoes freeze: the handover did not happen.
func (g *readyGate) unfreeze() {
	g.mu.Lock()
	g.frozen = nil
	g.mu.Unlock()
}

// freeze makes every later probe get the answer the member gives now: the
// process hands over to its successor, which answers on new connections.
func (g *readyGate) freeze() {
	g.mu.Lock()
	defer g.mu.Unlock()
	ok, reason := false, "handing over to a new cutover process"
	if g.member != nil {
		ok, reason = g.member.Ready()
	}
	g.frozen = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { g.write(w, r, ok, reason) })
}

// ServeHTTP implements http.Handler.
func (g *readyGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	deadline := time.Now().Add(readyWait)
	g.mu.Lock()
	frozen := g.frozen
	g.mu.Unlock()
	if frozen != nil {
		frozen.ServeHTTP(w, r)
		return
	}
	t := time.NewTimer(readyWait)
	defer t.Stop()
	select {
	case <-g.set:
	case <-t.C:
		g.write(w, r, false, "starting: not yet registered in the fleet")
		return
	case <-r.Context().Done():
		return
	}
	g.mu.Lock()
	m, since, settled := g.member, g.since, g.settled
	g.mu.Unlock()
	for !settled {
		ok, _ := m.Ready()
		if ok || time.Since(since) >= readyWait || !time.Now().Before(deadline) {
			g.mu.Lock()
			g.settled = g.settled || ok || time.Since(since) >= readyWait
			g.mu.Unlock()
			break
		}
		select {
		case <-time.After(readyPoll):
		case <-r.Context().Done():
			return
		}
	}
	// The answer is taken under the lock freeze takes, so that no probe
	// reads a member that a handover is closing.
	g.mu.Lock()
	if g.frozen != nil {
		frozen := g.frozen
		g.mu.Unlock()
		frozen.ServeHTTP(w, r)
		return
	}
	ok, reason := g.member.Ready()
	g.mu.Unlock()
	g.write(w, r, ok, reason)
}

// write writes a ready answer in the fleet member's format.
func (g *readyGate) write(w http.ResponseWriter, r *http.Request, ok bool, reason string) {
	code := http.StatusOK
	if !ok {
		code = http.StatusServiceUnavailable
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Cutover-Host", g.host)
	if r.Header.Get("Accept") == "application/json" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]any{"ready": ok, "host": g.host, "reason": reason})
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	if ok {
		_, _ = w.Write([]byte("ready\n"))
		return
	}
	_, _ = w.Write([]byte("not ready: " + reason + "\n"))
}
