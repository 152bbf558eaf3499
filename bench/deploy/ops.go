package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cutover-dev/cutover/internal/api"
	"github.com/cutover-dev/cutover/internal/deploy"
)

// opTimeout bounds one deploy or rollback, from the API call to its last event.
const opTimeout = 2 * time.Minute

// opRun is what one deploy or rollback looked like from the client and
// from the controller's events. Times are Unix nanoseconds (wall clock).
type opRun struct {
	Kind    string `json:"kind"` // deploy | rollback
	Version string `json:"version"`
	OpID    string `json:"op_id"`
	// Call is when the client issued the API call; Return when it answered.
	Call   int64 `json:"call"`
	Return int64 `json:"return"`
	// Accepted is the time of the operation's first ("accepted") event.
	Accepted int64 `json:"accepted"`
	// Gate is the time of the last "healthy" gate event (deploys only).
	Gate int64 `json:"gate,omitempty"`
	// Switch is the time of the switch (deploy) or rollback event, and
	// SwitchUS the route publish time the controller reports in it.
	Switch   int64 `json:"switch"`
	SwitchUS int64 `json:"switch_us"`
	// Done is the time of the done event; Outcome its outcome.
	Done    int64  `json:"done"`
	Outcome string `json:"outcome"`
	// Window is the probe window that belongs to this operation:
	// [Call, End) where End is the next operation's Call or the probe stop.
	End int64 `json:"end"`
	// LastOld and AllNew bracket the switch as the probe saw it (see crossing).
	LastOld  int64 `json:"last_old"`
	AllNew   int64 `json:"all_new"`
	Requests int   `json:"requests"`
	Failures int   `json:"failures"`
}

// runDeploy deploys version and follows the operation to its end.
func runDeploy(ctx context.Context, c *api.Client, version string) (opRun, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	r := opRun{Kind: "deploy", Version: version, Call: time.Now().UnixNano()}
	id, err := c.Deploy(ctx, deploy.DeployRequest{Service: service, Version: version})
	r.Return = time.Now().UnixNano()
	if err != nil {
		return r, fmt.Errorf("deploy %s: %w", version, err)
	}
	r.OpID = id
	return r, follow(ctx, c, &r)
}

// runRollback rolls the service back to its standby and follows the
// operation to its end.
func runRollback(ctx context.Context, c *api.Client, version string) (opRun, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	r := opRun{Kind: "rollback", Version: version, Call: time.Now().UnixNano()}
	id, err := c.Rollback(ctx, deploy.RollbackRequest{Service: service})
	r.Return = time.Now().UnixNano()
	if err != nil {
		return r, fmt.Errorf("rollback to %s: %w", version, err)
	}
	r.OpID = id
	return r, follow(ctx, c, &r)
}

// follow reads the operation's events (replayed from its start) into r.
func follow(ctx context.Context, c *api.Client, r *opRun) error {
	es, err := c.Events(ctx, service, r.OpID)
	if err != nil {
		return fmt.Errorf("events of %s: %w", r.OpID, err)
	}
	defer es.Close()
	for {
		ev, err := es.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("events of %s: %w", r.OpID, err)
		}
		t := ev.Time.UnixNano()
		switch {
		case ev.Step == "accepted":
			r.Accepted = t
		case ev.Step == "gate" && ev.Type == deploy.EventInfo && strings.Contains(ev.Message, "healthy after"):
			r.Gate = t
		case (ev.Step == "switch" || ev.Step == "rollback") && ev.Type == deploy.EventStep && ev.Data["switch_us"] != nil:
			r.Switch = t
			if f, ok := ev.Data["switch_us"].(float64); ok {
				r.SwitchUS = int64(f)
			}
		case ev.Type == deploy.EventDone:
			r.Done, r.Outcome = t, ev.Outcome.String()
			if ev.Outcome != "deployed" {
				return fmt.Errorf("%s %s ended %s: %s", r.Kind, r.Version, ev.Outcome, ev.Error)
			}
		}
	}
	if r.Done == 0 {
		return fmt.Errorf("events of %s ended without a done event", r.OpID)
	}
	if r.Switch == 0 || (r.Kind == "deploy" && r.Gate == 0) {
		return fmt.Errorf("%s %s: missing gate or switch event (gate=%d switch=%d)", r.Kind, r.Version, r.Gate, r.Switch)
	}
	return nil
}
