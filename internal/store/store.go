// Package store persists cutover's decisions: per-service state and deploy
// history. Every write is atomic: after a crash a reader sees either the old
// or the new value, never a torn one. One service's broken entry never hides
// the others.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/cutover-dev/cutover/internal/runtime"
)

// Errors returned by stores.
var (
	// ErrConflict reports a write whose expected generation did not match.
	ErrConflict = errors.New("state changed concurrently")
	// ErrNotFound reports a service with no stored state.
	ErrNotFound = errors.New("no stored state")
	// ErrCorrupt reports a stored entry that cannot be decoded. Delete
	// removes such an entry; Put over it fails until then.
	ErrCorrupt = errors.New("stored state is corrupt")
	// ErrInvalidName reports a service name a store cannot hold (empty, or
	// not made of letters, digits, '.', '-' and '_').
	ErrInvalidName = errors.New("invalid service name")
	// ErrClosed reports use of a store after Close.
	ErrClosed = errors.New("store is closed")
)

// Release is one version of a service with its instances.
type Release struct {
	Version   string             `json:"version"`
	Instances []runtime.Instance `json:"instances"`
	// Since is when the release took its current role.
	Since time.Time `json:"since"`
}

// Phase is the step an operation has reached. Its values are persisted as
// the strings below; a value this version does not know (written by a newer
// one) is read as is, and recovery treats it as "nothing switched".
type Phase string

// Phases of an operation, in order.
const (
	PhaseStarting   Phase = "starting"  // instances being started
	PhaseGating     Phase = "gating"    // waiting for health
	PhaseSwitching  Phase = "switching" // traffic decision recorded, being applied
	PhaseCanary     Phase = "canary"    // canary steps running
	PhaseStandby    Phase = "standby"   // switched; old release warm, new one watched
	PhaseRollingOut Phase = "rolling"   // rolling batches
	PhaseRetiring   Phase = "retiring"  // old instances being drained and stopped
	PhaseUndoing    Phase = "undoing"   // failed; removing what was started
)

// String returns the persisted name of the phase.
func (p Phase) String() string { return string(p) }

// Operation is a deploy or rollback in progress.
type Operation struct {
	ID      string `json:"id"`
	Kind    OpKind `json:"kind"`
	Version string `json:"version"`
	From    string `json:"from,omitempty"`
	Phase   Phase  `json:"phase"`
	// Started lists instances this operation started (to remove on failure).
	Started   []runtime.Instance `json:"started,omitempty"`
	StartedAt time.Time          `json:"started_at"`
	// Weight is the canary traffic percentage now applied.
	Weight float64 `json:"weight,omitempty"`
	// Step is the canary step index.
	Step int `json:"step,omitempty"`
	// Paused reports a canary paused by the user or by lack of data.
	Paused bool `json:"paused,omitempty"`
	// Prepared marks an operation of a fleet deploy (ID is the fleet
	// deploy's id) whose started instances passed their health gate and
	// wait for the fleet to commit or abort: a restart keeps them, re-gated,
	// for that decision instead of removing them.
	Prepared bool `json:"prepared,omitempty"`
	// Canary marks a prepared operation of a fleet canary: a restart takes
	// it up again as a canary.
	Canary bool `json:"canary,omitempty"`
}

// ServiceState is everything cutover must remember about one service.
type ServiceState struct {
	Name string `json:"name"`
	// Generation increases by one on every write.
	Generation uint64 `json:"generation"`
	// Active is the release receiving traffic (nil before the first deploy).
	Active *Release `json:"active,omitempty"`
	// Candidate is a canary release receiving Op.Weight percent.
	Candidate *Release `json:"candidate,omitempty"`
	// Standby is the previous release kept warm, not routed.
	Standby *Release `json:"standby,omitempty"`
	// StandbyUntil is when the standby is retired.
	StandbyUntil time.Time `json:"standby_until,omitzero"`
	// Op is the operation in progress, if any.
	Op *Operation `json:"op,omitempty"`
	// Versions lists previously active versions, newest first (for rollback without standby).
	Versions []string `json:"versions,omitempty"`
	// Retiring lists instances taken out of service that are being
	// drained and stopped in the background. They are recorded until they
	// are stopped, so that a restart finishes stopping them and never
	// takes them for orphans.
	Retiring []Retirement `json:"retiring,omitempty"`
}

// Retirement is a group of instances of one version being retired: taken
// out of routing, drained (when Drain is set) and stopped, in the
// background, without holding the service's operation.
type Retirement struct {
	Version   string             `json:"version"`
	Instances []runtime.Instance `json:"instances"`
	// Since is when the retirement began.
	Since time.Time `json:"since"`
	// Reason says why the instances are retired ("promoted by user").
	Reason string `json:"reason,omitempty"`
	// Drain is set when the instances may still have requests in flight:
	// they are drained before they are stopped.
	Drain bool `json:"drain,omitempty"`
	// PostRetire is set when the service's post_retire hook runs once the
	// instances are stopped (a retired standby).
	PostRetire bool `json:"post_retire,omitempty"`
}

// OpKind is what an operation does. Its values are persisted (in the
// state and the history) and shown by the API as the strings below.
type OpKind string

// Kinds of operation.
const (
	// OpDeploy starts a version and moves traffic to it.
	OpDeploy OpKind = "deploy"
	// OpRollback moves traffic back to the standby or a previous version.
	OpRollback OpKind = "rollback"
	// OpRetire ends a standby window; it is not recorded in the history.
	OpRetire OpKind = "retire"
)

// String returns the persisted name of the kind.
func (k OpKind) String() string { return string(k) }

// Outcome is how an operation ended. Its values are persisted in the
// history and shown by the API as the strings below.
type Outcome string

// Outcomes of a finished operation.
const (
	// OutcomeDeployed: the operation did what it was asked.
	OutcomeDeployed Outcome = "deployed"
	// OutcomeFailed: the operation failed; traffic is unchanged.
	OutcomeFailed Outcome = "failed"
	// OutcomeRolledBack: the operation moved traffic and then moved it back.
	OutcomeRolledBack Outcome = "rolled_back"
	// OutcomeAborted: the user aborted the operation; traffic is unchanged.
	OutcomeAborted Outcome = "aborted"
)

// String returns the persisted name of the outcome.
func (o Outcome) String() string { return string(o) }

// HistoryRecord is one finished operation.
type HistoryRecord struct {
	ID       string    `json:"id"`
	Service  string    `json:"service"`
	Kind     OpKind    `json:"kind"`
	Version  string    `json:"version"`
	From     string    `json:"from,omitempty"`
	Strategy string    `json:"strategy,omitempty"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Outcome  Outcome   `json:"outcome"`
	Reason   string    `json:"reason,omitempty"`
	// Steps holds named durations such as "start", "gate", "switch", "drain".
	Steps map[string]time.Duration `json:"steps,omitempty"`
	// Hosts are the hosts a fleet operation planned, Lost those lost on the
	// way, Coordinator the host that ran it (fleet history only).
	Hosts       []string `json:"hosts,omitempty"`
	Lost        []string `json:"lost,omitempty"`
	Coordinator string   `json:"coordinator,omitempty"`
	// Notes are facts the operation recorded for later: the migrations it
	// ran, and each migration lint finding an override let through, with
	// the override's reason.
	Notes []string `json:"notes,omitempty"`
}

// Store persists service state and history. Implementations are safe for concurrent use.
type Store interface {
	// Load returns every stored service. A service whose entry cannot be read
	// is reported in bad (name → error) and left out of states.
	Load(ctx context.Context) (states map[string]ServiceState, bad map[string]error, err error)
	// Get returns one service's state or ErrNotFound.
	Get(ctx context.Context, name string) (ServiceState, error)
	// Put writes s atomically if the stored generation is s.Generation-1
	// (0 meaning "none stored"), else returns ErrConflict.
	Put(ctx context.Context, s ServiceState) error
	// Delete removes a service's state.
	Delete(ctx context.Context, name string) error
	// AppendHistory durably appends one record.
	AppendHistory(ctx context.Context, rec HistoryRecord) error
	// History returns up to limit newest records of a service, newest first (limit ≤ 0: all).
	History(ctx context.Context, service string, limit int) ([]HistoryRecord, error)
	// Close releases the store.
	Close() error
}
