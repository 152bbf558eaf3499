package health

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrNotHealthy is wrapped by Gate's error when the deadline passes before
// the target became healthy.
var ErrNotHealthy = errors.New("not healthy")

// GateOption changes how Gate runs.
type GateOption func(*gateOptions)

type gateOptions struct {
	abort    func() error
	progress func(Result)
	probe    prober
}

// WithAbort makes Gate call abort before every probe and stop, returning
// abort's error unchanged, as soon as it returns one: for example when the
// instance's process has exited and waiting longer is pointless. abort is
// called from Gate's goroutine.
func WithAbort(abort func() error) GateOption {
	return func(o *gateOptions) { o.abort = abort }
}

// WithProgress makes Gate call fn with every probe's result (Attempts counts
// the probes so far), from Gate's goroutine.
func WithProgress(fn func(Result)) GateOption {
	return func(o *gateOptions) { o.progress = fn }
}

// withProber replaces the probe function (tests).
func withProber(p prober) GateOption {
	return func(o *gateOptions) { o.probe = p }
}

// Gate probes addr with c (defaults applied) until HealthyThreshold
// consecutive probes succeed, and returns the last result with a nil error.
// The first probe starts at once; each next one starts Interval after the
// previous one ended. A failed probe resets the count.
//
// When deadline (if > 0) passes first, Gate returns an error wrapping
// ErrNotHealthy that includes the last result's Reason; when ctx ends first,
// it returns ctx's error; when an abort function (WithAbort) fails, it
// returns that error. An invalid Check returns an error wrapping
// ErrInvalidCheck. The returned Result has Attempts set to the number of
// probes made.
func Gate(ctx context.Context, c Check, addr string, deadline time.Duration, opts ...GateOption) (Result, error) {
	o := gateOptions{probe: Probe}
	for _, opt := range opts {
		opt(&o)
	}
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return Result{}, err
	}
	gctx := ctx
	if deadline > 0 {
		var cancel context.CancelFunc
		gctx, cancel = context.WithTimeout(ctx, deadline)
		defer cancel()
	}
	timer := time.NewTimer(0)
	defer timer.Stop()

	var (
		last        Result
		attempts    int
		consecutive int
	)
	for {
		select {
		case <-gctx.Done():
			return last, gateEnd(ctx, c, addr, deadline, last)
		case <-timer.C:
		}
		if o.abort != nil {
			if err := o.abort(); err != nil {
				return last, err
			}
		}
		r := o.probe(gctx, c, addr)
		if gctx.Err() != nil && !r.Healthy && attempts > 0 {
			// The probe was cut short by the gate's end: the previous
			// result says more about the target.
			return last, gateEnd(ctx, c, addr, deadline, last)
		}
		attempts++
		r.Attempts = attempts
		last = r
		if o.progress != nil {
			o.progress(r)
		}
		if !r.Healthy {
			consecutive = 0
		} else if consecutive++; consecutive >= c.HealthyThreshold {
			return last, nil
		}
		timer.Reset(c.Interval)
	}
}

// gateEnd returns the error of a gate whose context ended.
func gateEnd(ctx context.Context, c Check, addr string, deadline time.Duration, last Result) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	target := addr
	if c.Type == TypeHTTP {
		target = "http://" + probeAddr(addr, c.Port) + c.Path
	} else if c.Port != 0 {
		target = probeAddr(addr, c.Port)
	}
	return fmt.Errorf("%w within %v after %d probes of %s: %s",
		ErrNotHealthy, deadline, last.Attempts, target, last.Reason())
}
