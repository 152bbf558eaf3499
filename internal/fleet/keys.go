// Package fleet runs one deploy across many hosts with a single commit
// point: every host prepares the new version beside the old one and
// reports it, one guarded transaction on the coordination store commits
// the switch (or an abort undoes it everywhere), every host applies the
// commit and acknowledges, and only then is the deploy finished. One host
// is a fleet of one.
//
// The protocol's state lives in a coord.Store under one prefix:
//
//	hosts/<h>                      a host's record, on its lease
//	services/<s>/active            the committed version (its ModRevision is the fencing token)
//	services/<s>/lock              who runs the service's deploy, on the coordinator's lease
//	services/<s>/retire            a request to retire the standby everywhere (promote)
//	deploys/<id>/plan              what is being deployed, where
//	deploys/<id>/state             preparing | committed | aborted | finalized
//	deploys/<id>/prepared/<h>      a host prepared the version, on the host's lease
//	deploys/<id>/failed/<h>        a host could not prepare, and why
//	deploys/<id>/switched/<h>      a host applied the commit
//	deploys/<id>/undone/<h>        a host removed what an aborted deploy started
//	deploys/<id>/canary            a canary's step and weight, set by its coordinator
//	deploys/<id>/stats/<h>         a host's canary numbers, on the host's lease
//	deploys/<id>/control           a user's command to a running canary
//	deploys/<id>/batch             the batch of hosts a rolling deploy is at
//	history/<s>/<end>-<id>         a finished fleet operation (the newest historyKeep)
//
// Agents are level-triggered: on start and every reconnect they read the
// whole prefix and converge before they watch from the revision of that
// read; a compacted watch re-lists.
package fleet

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/cutover-dev/cutover/internal/metrics"
)

// keys builds the key names of one fleet under a prefix ending in "/".
type keys struct{ prefix string }

func newKeys(prefix string) keys {
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return keys{prefix: prefix}
}

func (k keys) hosts() string                { return k.prefix + "hosts/" }
func (k keys) host(h string) string         { return k.prefix + "hosts/" + h }
func (k keys) services() string             { return k.prefix + "services/" }
func (k keys) active(s string) string       { return k.prefix + "services/" + s + "/active" }
func (k keys) lock(s string) string         { return k.prefix + "services/" + s + "/lock" }
func (k keys) retire(s string) string       { return k.prefix + "services/" + s + "/retire" }
func (k keys) deploys() string              { return k.prefix + "deploys/" }
func (k keys) deploy(id string) string      { return k.prefix + "deploys/" + id + "/" }
func (k keys) plan(id string) string        { return k.deploy(id) + "plan" }
func (k keys) state(id string) string       { return k.deploy(id) + "state" }
func (k keys) prepared(id, h string) string { return k.deploy(id) + "prepared/" + h }
func (k keys) failed(id, h string) string   { return k.deploy(id) + "failed/" + h }
func (k keys) switched(id, h string) string { return k.deploy(id) + "switched/" + h }
func (k keys) undone(id, h string) string   { return k.deploy(id) + "undone/" + h }
func (k keys) canary(id string) string      { return k.deploy(id) + "canary" }
func (k keys) stats(id, h string) string    { return k.deploy(id) + "stats/" + h }
func (k keys) control(id string) string     { return k.deploy(id) + "control" }
func (k keys) batch(id string) string       { return k.deploy(id) + "batch" }
func (k keys) history(s string) string      { return k.prefix + "history/" + s + "/" }

// historyEntry names one finished operation; entries sort by end time.
func (k keys) historyEntry(s string, end time.Time, id string) string {
	return fmt.Sprintf("%s%020d-%s", k.history(s), end.UnixNano(), id)
}

// parse splits a key into its kind and names: ("host", h, ""), ("active",
// s, ""), ("lock", s, ""), ("retire", s, ""), ("plan", id, ""), ("state",
// id, ""), ("prepared"|"failed"|"switched"|"undone", id, h); ok false for
// anything else.
func (k keys) parse(key string) (kind, a, b string, ok bool) {
	rest, found := strings.CutPrefix(key, k.prefix)
	if !found {
		return "", "", "", false
	}
	parts := strings.Split(rest, "/")
	switch {
	case len(parts) == 2 && parts[0] == "hosts":
		return "host", parts[1], "", true
	case len(parts) == 3 && parts[0] == "services":
		switch parts[2] {
		case "active", "lock", "retire":
			return parts[2], parts[1], "", true
		}
	case len(parts) == 3 && parts[0] == "deploys":
		switch parts[2] {
		case "plan", "state", "canary", "control", "batch":
			return parts[2], parts[1], "", true
		}
	case len(parts) == 4 && parts[0] == "deploys":
		switch parts[2] {
		case "prepared", "failed", "switched", "undone", "stats":
			return parts[2], parts[1], parts[3], true
		}
	}
	return "", "", "", false
}

// Kind says what a plan does.
type Kind string

// Plan kinds.
const (
	// KindDeploy deploys a new version.
	KindDeploy Kind = "deploy"
	// KindRollback goes back to the warm standby (or deploys an earlier
	// version where no standby is warm).
	KindRollback Kind = "rollback"
)

// Phase is the state of a fleet deploy. Its values are stored.
type Phase string

// Phases of a fleet deploy.
const (
	// PhasePreparing: hosts start and gate the new version; nothing switched.
	PhasePreparing Phase = "preparing"
	// PhaseCommitted: the switch is decided; hosts apply it.
	PhaseCommitted Phase = "committed"
	// PhaseAborted: the deploy was abandoned before its commit; hosts remove what they started.
	PhaseAborted Phase = "aborted"
	// PhaseFinalized: every live host applied the commit.
	PhaseFinalized Phase = "finalized"
	// PhaseCanary: every host prepared; the canary takes the weight the
	// coordinator sets on every host while it is judged on the fleet's sum.
	// The committed version is unchanged until the promotion commits.
	PhaseCanary Phase = "canary"
	// PhaseRolling: hosts prepare and switch batch by batch (deploys/<id>/batch);
	// the committed version changes once the last batch switched.
	PhaseRolling Phase = "rolling"
)

// Terminal reports whether no more work follows p.
func (p Phase) Terminal() bool { return p == PhaseAborted || p == PhaseFinalized }

// Plan is one fleet deploy: what goes where, decided before any host
// starts anything.
type Plan struct {
	ID      string `json:"id"`
	Kind    Kind   `json:"kind"`
	Service string `json:"service"`
	Version string `json:"version"`
	// From is the version committed when the plan was made ("" for a first deploy).
	From string `json:"from,omitempty"`
	// Strategy is the strategy each host uses to prepare and switch.
	Strategy string `json:"strategy"`
	// Hosts are the hosts that must prepare, sorted.
	Hosts []string `json:"hosts"`
	// AllowLost is how many hosts may be lost during prepare and dropped from the plan.
	AllowLost int `json:"allow_lost,omitempty"`
	// ConfigDigest is the digest of the service's config on the coordinator;
	// ConfigFields the digest of each of its top-level fields, so a host whose
	// config differs can name the fields.
	ConfigDigest string            `json:"config_digest"`
	ConfigFields map[string]string `json:"config_fields,omitempty"`
	// Coordinator is the host that made the plan.
	Coordinator string `json:"coordinator"`
	// ActiveRev is the ModRevision of the service's active key when the plan
	// was made (0: none); the commit requires it unchanged.
	ActiveRev int64     `json:"active_rev"`
	Created   time.Time `json:"created"`
	// PrepareDeadline is when an unfinished prepare aborts the deploy.
	PrepareDeadline time.Time `json:"prepare_deadline"`
	// Force skips the health gate on every host.
	Force bool `json:"force,omitempty"`
	// Targets gives static addresses of the version (static runtime only).
	Targets []string `json:"targets,omitempty"`
	// Watch is how long the coordinator watches the new version after the
	// commit (a rollback meanwhile ends the deploy as rolled back).
	Watch time.Duration `json:"watch,omitempty"`
	// Reason says why a rollback was started.
	Reason string `json:"reason,omitempty"`
	// Automatic marks a rollback cutover started itself (the new version
	// turned unhealthy in its standby window).
	Automatic bool `json:"automatic,omitempty"`
	// Steps are a canary's traffic percentages below 100 (strategy canary).
	Steps []float64 `json:"steps,omitempty"`
	// Batch is how many hosts a rolling deploy prepares and switches at a
	// time (strategy rolling).
	Batch int `json:"batch,omitempty"`
	// PrepareTimeout bounds each batch's prepare (strategy rolling).
	PrepareTimeout time.Duration `json:"prepare_timeout,omitempty"`
	// Allow lists migration lint rules the preflight lets through.
	Allow []string `json:"allow,omitempty"`
	// Migrate has the host's prepare run the service's migrations (a
	// fleet of one).
	Migrate bool `json:"migrate,omitempty"`
}

// batches splits the plan's hosts into its rolling batches.
func (p *Plan) batches() [][]string {
	n := max(p.Batch, 1)
	var out [][]string
	for i := 0; i < len(p.Hosts); i += n {
		out = append(out, p.Hosts[i:min(i+n, len(p.Hosts))])
	}
	return out
}

// batchOf returns the index of the rolling batch of host h (-1: none).
func (p *Plan) batchOf(h string) int {
	for i, b := range p.batches() {
		for _, x := range b {
			if x == h {
				return i
			}
		}
	}
	return -1
}

// hasHost reports whether h is in the plan.
func (p *Plan) hasHost(h string) bool {
	for _, x := range p.Hosts {
		if x == h {
			return true
		}
	}
	return false
}

// State is the phase of a fleet deploy with why it got there.
type State struct {
	Phase  Phase     `json:"phase"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"`
	// Lost lists hosts declared lost (dropped before the commit, or not
	// acknowledging it after).
	Lost []string `json:"lost,omitempty"`
	// By is the host that wrote this state.
	By string `json:"by,omitempty"`
}

// Active is the committed version of a service fleet-wide.
type Active struct {
	Version string `json:"version"`
	// Deploy is the plan that committed it.
	Deploy string `json:"deploy"`
	// Kind is the plan's kind.
	Kind Kind `json:"kind"`
	// Previous is the version it replaced ("" for a first deploy).
	Previous string    `json:"previous,omitempty"`
	At       time.Time `json:"at"`
	// Reason is a rollback's reason.
	Reason string `json:"reason,omitempty"`
}

// Lock records who runs a service's fleet operation.
type Lock struct {
	// TakenOver marks a lock taken by a host finishing or undoing the
	// deploy of a lost coordinator.
	TakenOver bool      `json:"taken_over,omitempty"`
	Deploy    string    `json:"deploy"`
	Kind      Kind      `json:"kind"`
	Host      string    `json:"host"`
	Since     time.Time `json:"since"`
}

// HostRecord is a host's registration, kept on its lease.
type HostRecord struct {
	Name string `json:"name"`
	// Started is when this registration began.
	Started time.Time `json:"started"`
	// PID of the cutover serve process.
	PID int `json:"pid"`
	// Services maps a service to the version this host applied and the
	// revision of the active key it applied.
	Services map[string]Applied `json:"services,omitempty"`
	// Ready mirrors the host's ready endpoint.
	Ready bool `json:"ready"`
	// Reason says why the host is not ready.
	Reason string `json:"reason,omitempty"`
}

// Applied is what one host serves for one service.
type Applied struct {
	Version string `json:"version"`
	Rev     int64  `json:"rev"`
}

// Prepared is a host's report that it prepared a plan.
type Prepared struct {
	Version string    `json:"version"`
	At      time.Time `json:"at"`
}

// Failure is a host's report that it could not prepare a plan.
type Failure struct {
	Reason string    `json:"reason"`
	Output string    `json:"output,omitempty"`
	At     time.Time `json:"at"`
}

// Ack is a host's report that it applied a decision (switched or undone).
type Ack struct {
	At time.Time `json:"at"`
	// Error reports an apply that failed (the host is then not ready).
	Error string `json:"error,omitempty"`
}

// Retire asks every host to retire the standby of a service.
type Retire struct {
	// Version is the standby version to retire.
	Version string    `json:"version"`
	Reason  string    `json:"reason"`
	At      time.Time `json:"at"`
	By      string    `json:"by"`
}

// CanaryState is a fleet canary's step, set by its coordinator.
type CanaryState struct {
	// Step is 1-based, of Of: the plan's steps, the promotion to 100%
	// included ([10, 50, 100] and [10, 50] are both 3 steps).
	Step   int       `json:"step"`
	Of     int       `json:"of"`
	Weight float64   `json:"weight"`
	Paused bool      `json:"paused,omitempty"`
	At     time.Time `json:"at"`
}

// HostStats is one host's canary numbers since the canary took traffic
// there, kept on the host's lease.
type HostStats struct {
	// Weight is the weight this host routes to the canary.
	Weight   float64       `json:"weight"`
	Baseline metrics.Stats `json:"baseline"`
	Canary   metrics.Stats `json:"canary"`
	// Unhealthy names a canary instance whose health check fails.
	Unhealthy string `json:"unhealthy,omitempty"`
	// Error reports a weight this host could not apply.
	Error string    `json:"error,omitempty"`
	At    time.Time `json:"at"`
}

// Control actions on a running fleet canary.
const (
	ControlPause   = "pause"
	ControlResume  = "resume"
	ControlWeight  = "weight"
	ControlPromote = "promote"
	ControlAbort   = "abort"
)

// Control is a user's command to a running fleet canary, sent from any
// host and carried out by the canary's coordinator.
type Control struct {
	Action string    `json:"action"`
	Weight float64   `json:"weight,omitempty"`
	At     time.Time `json:"at"`
	By     string    `json:"by"`
}

// BatchState is the batch a rolling fleet deploy is at.
type BatchState struct {
	// Index is 0-based, of Of.
	Index int      `json:"index"`
	Of    int      `json:"of"`
	Hosts []string `json:"hosts"`
	// Committed: the batch's hosts switch.
	Committed bool      `json:"committed,omitempty"`
	At        time.Time `json:"at"`
}

func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("fleet: encode %T: %v", v, err))
	}
	return b
}

func decode[T any](b []byte) (T, error) {
	var v T
	err := json.Unmarshal(b, &v)
	return v, err
}
