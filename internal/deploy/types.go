package deploy

import (
	"errors"
	"time"

	"github.com/cutover-dev/cutover/internal/metrics"
	"github.com/cutover-dev/cutover/internal/store"
)

// Errors the controller returns; internal/api maps them to HTTP status codes
// and the CLI to exit codes.
var (
	// ErrUnknownService: no such service in the config (404).
	ErrUnknownService = errors.New("unknown service")
	// ErrBusy: another operation runs on the service (409).
	ErrBusy = errors.New("another operation is in progress")
	// ErrInvalid: the request is malformed (400).
	ErrInvalid = errors.New("invalid request")
	// ErrNoOperation: promote/abort/pause with nothing to act on (409).
	ErrNoOperation = errors.New("no operation in progress")
	// ErrNothingToRollBack: no standby and no previous version (409).
	ErrNothingToRollBack = errors.New("nothing to roll back to")
	// ErrAborted: the operation was aborted by the user; traffic is unchanged.
	ErrAborted = errors.New("aborted")
)

// DeployRequest asks for a version of a service to be deployed.
type DeployRequest struct {
	Service string `json:"service"`
	Version string `json:"version"`
	// Strategy overrides the configured strategy ("" = configured).
	Strategy string `json:"strategy,omitempty"`
	// Targets gives static addresses for the version (static runtime only).
	Targets []string `json:"targets,omitempty"`
	// Force skips the health gate (invariant 1 exception, requested explicitly).
	Force bool `json:"force,omitempty"`
	// Watch keeps the operation open after the switch for this long (a Go
	// duration such as "30s", capped by the standby window): if the new
	// version turns unhealthy meanwhile, traffic goes back to the standby and
	// the deploy ends as rolled back. "" = do not wait.
	Watch string `json:"watch,omitempty"`
	// AllowLost is how many hosts of a fleet may be lost while they prepare
	// and be dropped from the deploy (default 0: a lost host aborts it).
	AllowLost int `json:"allow_lost,omitempty"`
	// Batch is how many hosts of a fleet a rolling deploy takes at a time
	// (default 1).
	Batch int `json:"batch,omitempty"`
	// Allow lists migration lint rules the preflight lets through, each
	// "RULE" or "RULE=REASON" (see runMigrations).
	Allow []string `json:"allow,omitempty"`
	// Migrate has a fleet prepare run the migrations (set by the fleet for
	// a fleet of one; never from the API).
	Migrate bool `json:"-"`
}

// RollbackRequest asks a service to go back to its standby or to a version.
type RollbackRequest struct {
	Service string `json:"service"`
	// To is the version to go back to ("" = standby or previous version).
	To string `json:"to,omitempty"`
	// Force goes below the rollback floor (see Floor).
	Force bool `json:"force,omitempty"`
}

// EventType classifies an Event.
type EventType string

// Event types.
const (
	// EventStep marks a step starting or finishing (Step names it).
	EventStep EventType = "step"
	// EventInfo carries a progress message.
	EventInfo EventType = "info"
	// EventWarn carries a warning (a failed post-switch hook, fail-open health).
	EventWarn EventType = "warn"
	// EventDone is the last event of an operation; Outcome is set.
	EventDone EventType = "done"
)

// Event is one progress report of an operation.
type Event struct {
	Time    time.Time `json:"time"`
	Service string    `json:"service"`
	OpID    string    `json:"op_id"`
	Type    EventType `json:"type"`
	// Step is a short name: start, gate, hook, switch, drain, standby, retire, canary, rollback, undo.
	Step string `json:"step,omitempty"`
	// Message is a human sentence.
	Message string `json:"message"`
	// Elapsed is the time since the operation began.
	Elapsed time.Duration `json:"elapsed"`
	// Outcome is set on EventDone: deployed, failed, rolled_back, aborted.
	Outcome store.Outcome `json:"outcome,omitempty"`
	// Error explains a failure; Output holds the instance's last log lines.
	Error  string `json:"error,omitempty"`
	Output string `json:"output,omitempty"`
	// Data carries step numbers (weights, counts, durations in ms).
	Data map[string]any `json:"data,omitempty"`
}

// InstanceStatus is one instance as shown by status.
type InstanceStatus struct {
	ID       string `json:"id"`
	Addr     string `json:"addr"`
	PID      int    `json:"pid,omitempty"`
	Healthy  bool   `json:"healthy"`
	InFlight int64  `json:"in_flight"`
	// LogPath is the instance's output log file (process runtime; "" otherwise).
	LogPath string `json:"log_path,omitempty"`
}

// ReleaseStatus is one release (active, candidate or standby) as shown by status.
type ReleaseStatus struct {
	Version   string           `json:"version"`
	Since     time.Time        `json:"since"`
	Instances []InstanceStatus `json:"instances"`
}

// RetiringStatus is a release being retired as shown by status: its
// instances still running, since when, why, and by when they are stopped
// at the latest (the drain timeout, when drained, plus the stop grace).
type RetiringStatus struct {
	ReleaseStatus
	Reason string    `json:"reason,omitempty"`
	By     time.Time `json:"by"`
}

// Comparison is the live canary analysis as shown by status.
type Comparison struct {
	Baseline metrics.Stats `json:"-"`
	Canary   metrics.Stats `json:"-"`
	// Verdict is pass, fail or wait, with Reason.
	Verdict string `json:"verdict"`
	Reason  string `json:"reason"`
	// Summary holds per-version numbers for display (requests, error_rate, p50_ms, p99_ms).
	Summary map[string]map[string]float64 `json:"summary,omitempty"`
}

// ServiceStatus is a service as shown by status.
type ServiceStatus struct {
	Name         string           `json:"name"`
	Strategy     string           `json:"strategy"`
	Runtime      string           `json:"runtime"`
	Active       *ReleaseStatus   `json:"active,omitempty"`
	Candidate    *ReleaseStatus   `json:"candidate,omitempty"`
	Weight       float64          `json:"weight,omitempty"`
	Standby      *ReleaseStatus   `json:"standby,omitempty"`
	StandbyUntil time.Time        `json:"standby_until,omitzero"`
	Op           *store.Operation `json:"op,omitempty"`
	Canary       *Comparison      `json:"canary,omitempty"`
	// Retiring lists releases being drained and stopped in the
	// background; they hold no operation, so deploys go on meanwhile.
	Retiring []RetiringStatus `json:"retiring,omitempty"`
	// Error reports a service whose stored state could not be read.
	Error string `json:"error,omitempty"`
}
