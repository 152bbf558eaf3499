package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/cutover-dev/cutover/internal/deploy"
)

// opTimeout bounds one deploy, from the API call to its done event.
const opTimeout = 2 * time.Minute

// deployRun is one fleet deploy. Times are Unix nanoseconds (wall clock;
// every process runs on this machine).
type deployRun struct {
	Version     string `json:"version"`
	From        string `json:"from"`
	OpID        string `json:"op_id"`
	Coordinator string `json:"coordinator"`
	// Call is when the benchmark issued the API call to the coordinator;
	// Return when it answered.
	Call   int64 `json:"call"`
	Return int64 `json:"return"`
	// Commit is the time of the coordinator's "commit" event, emitted once
	// the commit transaction succeeded and its own mirror saw it.
	Commit int64 `json:"commit"`
	// Done is the time of the done event; Outcome its outcome.
	Done    int64  `json:"done"`
	Outcome string `json:"outcome"`
	// SwitchUS is last_switch_us of the done event: the last host's
	// switched ack time − the coordinator's commit time. Switched is how
	// many hosts acknowledged.
	SwitchUS int64 `json:"last_switch_us"`
	Switched int   `json:"switched"`
	// CommitAt is the committed state's time, stamped by the coordinator
	// just before its commit transaction; FirstAck and LastAck the
	// earliest and latest host's switched ack time, all as recorded in
	// etcd; Checks the batch checks of the commit (0: one transaction).
	CommitAt int64 `json:"commit_at"`
	FirstAck int64 `json:"first_ack"`
	LastAck  int64 `json:"last_ack"`
	Checks   int   `json:"checks"`
	// FirstPublish and LastPublish are the earliest and latest time a
	// host's controller published the new routing table (its "switch"
	// event, right after the swap).
	FirstPublish int64 `json:"first_publish"`
	LastPublish  int64 `json:"last_publish"`
	// Crossing is what the probe saw between this deploy's call and the
	// next one's.
	Crossing crossing `json:"crossing"`
	Error    string   `json:"error,omitempty"`
}

// txnToLastUS is the time from the commit transaction's start to the last
// host's switch, as the hosts recorded it.
func (d *deployRun) txnToLastUS() int64 { return (d.LastAck - d.CommitAt) / 1e3 }

// spreadUS is the time from the first host's switched ack to the last one's.
func (d *deployRun) spreadUS() int64 { return (d.LastAck - d.FirstAck) / 1e3 }

// txnToPublishUS is the time from the commit transaction's start to the
// last host's routing publish.
func (d *deployRun) txnToPublishUS() int64 { return (d.LastPublish - d.CommitAt) / 1e3 }

// publishSpreadUS is the time from the first host's routing publish to
// the last one's: the mixed-version window as the hosts' routing tables
// tell it.
func (d *deployRun) publishSpreadUS() int64 { return (d.LastPublish - d.FirstPublish) / 1e3 }

func (d *deployRun) setObserved(rec observed) {
	d.CommitAt, d.Checks = rec.CommitAt.UnixNano(), rec.Checks
	first, last := rec.ackRange()
	d.FirstAck, d.LastAck = first.UnixNano(), last.UnixNano()
}

// runDeploy deploys version through h and follows the fleet operation to
// its end.
func runDeploy(ctx context.Context, h *host, version, from string) (*deployRun, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	d := &deployRun{Version: version, From: from, Coordinator: h.name, Call: time.Now().UnixNano()}
	id, err := h.api.Deploy(ctx, deploy.DeployRequest{Service: service, Version: version})
	d.Return = time.Now().UnixNano()
	if err != nil {
		return d, fmt.Errorf("deploy %s: %w", version, err)
	}
	d.OpID = id
	return d, follow(ctx, h, d)
}

// follow reads the operation's events (replayed from its start) into d.
func follow(ctx context.Context, h *host, d *deployRun) error {
	es, err := h.api.Events(ctx, service, d.OpID)
	if err != nil {
		return fmt.Errorf("events of %s: %w", d.OpID, err)
	}
	defer es.Close()
	for {
		ev, err := es.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("events of %s: %w", d.OpID, err)
		}
		switch {
		case ev.Step == "commit" && ev.Type == deploy.EventStep:
			d.Commit = ev.Time.UnixNano()
		case ev.Type == deploy.EventDone:
			d.Done, d.Outcome = ev.Time.UnixNano(), ev.Outcome.String()
			if f, ok := ev.Data["last_switch_us"].(float64); ok {
				d.SwitchUS = int64(f)
			}
			if f, ok := ev.Data["switched"].(float64); ok {
				d.Switched = int(f)
			}
			if ev.Outcome != "deployed" {
				return fmt.Errorf("deploy %s ended %s: %s", d.Version, ev.Outcome, ev.Error)
			}
		}
	}
	if d.Done == 0 || d.Commit == 0 {
		return fmt.Errorf("events of %s ended without a commit or done event", d.OpID)
	}
	return nil
}
