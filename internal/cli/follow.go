package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/cutover-dev/cutover/internal/api"
	"github.com/cutover-dev/cutover/internal/deploy"
	"github.com/cutover-dev/cutover/internal/store"
)

// follow prints the events of one operation until its EventDone and returns
// its outcome. It returns ctx's error when ctx ends first.
func (a *app) follow(ctx context.Context, c *api.Client, service, op string) (store.Outcome, error) {
	stream, err := c.Events(ctx, service, op)
	if err != nil {
		return "", err
	}
	defer stream.Close()
	p := &eventPrinter{w: a.stdout, json: a.output == outputJSON, loc: a.loc}
	for {
		ev, err := stream.Next()
		if errors.Is(err, io.EOF) {
			return "", api.ErrStreamEnded
		}
		if err != nil {
			return "", err
		}
		if err := p.print(ev); err != nil {
			return "", err
		}
		if ev.Type == deploy.EventDone {
			return ev.Outcome, nil
		}
	}
}

// operation describes an operation a command starts, for messages.
type operation struct {
	kind    string // deploy | rollback
	service string
	what    string // e.g. "web v2", "web to v1"
	// wait queues the operation behind one that holds the service
	// (--wait) instead of failing with exit code 5.
	wait bool
}

// Queueing with --wait retries a refused start with a growing pause.
const (
	queueFirstPause = 100 * time.Millisecond
	queueMaxPause   = time.Second
)

// startQueued calls start and, with o.wait, calls it again while the
// server answers that another operation holds the service, saying once
// what it waits for. It gives up when ctx ends (--timeout, Ctrl-C) with
// the last refusal.
func (a *app) startQueued(ctx context.Context, c *api.Client, o operation,
	start func(context.Context, *api.Client) (string, error)) (string, error) {
	pause := queueFirstPause
	for said := false; ; said = true {
		op, err := start(ctx, c)
		if err == nil || !o.wait || !errors.Is(err, deploy.ErrBusy) || ctx.Err() != nil {
			return op, err
		}
		if !said {
			fmt.Fprintf(a.stderr, "Waiting to start the %s of %s: %v\n", o.kind, o.what, busyText(err))
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", fmt.Errorf("gave up waiting (%v): %w", context.Cause(ctx), err)
		case <-t.C:
		}
		pause = min(2*pause, queueMaxPause)
	}
}

// busyText is the server's reason for a refusal, without the error code.
func busyText(err error) string {
	if ae, ok := errors.AsType[*api.Error](err); ok {
		return ae.Message
	}
	return err.Error()
}

// startAndFollow starts an operation with start and, unless detach is set,
// follows it to its end and maps its outcome to the exit code. Waiting is
// bounded by timeout (0 = no bound); Ctrl-C stops waiting, not the operation.
func (a *app) startAndFollow(ctx context.Context, o operation, detach bool, timeout time.Duration,
	start func(context.Context, *api.Client) (string, error)) error {
	if timeout < 0 {
		return usagef("--timeout must not be negative")
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	waitCtx, cancel := ctx, context.CancelFunc(func() {})
	if timeout > 0 {
		waitCtx, cancel = context.WithTimeout(ctx, timeout)
	}
	defer cancel()
	op, err := a.startQueued(waitCtx, c, o, start)
	if err != nil {
		return err
	}
	json := a.output == outputJSON
	if detach {
		if json {
			return printJSON(a.stdout, map[string]string{"op_id": op, "service": o.service})
		}
		fmt.Fprintf(a.stdout, "Started %s of %s as operation %s.\nFollow it: cutover events %s --op %s\n",
			o.kind, o.what, op, o.service, op)
		return nil
	}
	if !json {
		fmt.Fprintf(a.stdout, "%s %s (operation %s); Ctrl-C stops watching, not the %s.\n",
			gerund(o.kind), o.what, op, o.kind)
	}
	outcome, err := a.follow(waitCtx, c, o.service, op)
	switch {
	case err == nil:
		if code := outcomeExitCode(outcome); code != ExitOK {
			return &exitError{code: code}
		}
		return nil
	case ctx.Err() != nil:
		fmt.Fprintf(a.stderr, "Stopped watching; the %s of %s goes on (operation %s).\n", o.kind, o.service, op)
	case waitCtx.Err() != nil:
		fmt.Fprintf(a.stderr, "Gave up waiting after %s; the %s of %s goes on (operation %s).\n",
			timeout, o.kind, o.service, op)
	default:
		return err
	}
	fmt.Fprintf(a.stderr, "  follow it: cutover events %s --op %s\n  stop it:   cutover abort %s\n",
		o.service, op, o.service)
	return &exitError{code: ExitStillRunning}
}

// gerund returns "Deploying" for "deploy", "Rolling back" for "rollback".
func gerund(kind string) string {
	if kind == "rollback" {
		return "Rolling back"
	}
	return "Deploying"
}
