package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// switchRun is one load run during which the subject was switched between
// the two backends every h.switchEvery.
type switchRun struct {
	Subject string `json:"subject"`
	// Tool is "wrk" or "loadcheck".
	Tool     string  `json:"tool"`
	Conns    int     `json:"conns"`
	Seconds  float64 `json:"seconds"`
	Requests int64   `json:"requests"`
	Failed   int64   `json:"failed"`
	// Detail breaks Failed down as the tool reported it.
	Detail string `json:"detail"`
	// Backends counts successful responses per backend (loadcheck only).
	Backends     map[string]int64 `json:"backends,omitempty"`
	Switches     int              `json:"switches"`
	SwitchErrors int              `json:"switch_errors"`
	// SwitchMeanMS is the mean wall time of one switch command.
	SwitchMeanMS float64 `json:"switch_mean_ms"`
	SwitchErr    string  `json:"switch_error,omitempty"`
	// Load is the 1-minute load average right after the run.
	Load string `json:"loadavg"`
	Err  string `json:"error,omitempty"`
}

// switcher calls a subject's switchTo every interval, alternating v2 and v1,
// until stop is called. A switch that takes longer than the interval delays
// the next one (ticks are dropped, never queued). stop lets a switch in
// progress finish, so the subject is never left in the middle of one.
type switcher struct {
	quit    chan struct{}
	wg      sync.WaitGroup
	n, errs int
	busy    time.Duration
	lastErr error
}

func startSwitcher(ctx context.Context, fn func(context.Context, string) error, every time.Duration) *switcher {
	sw := &switcher{quit: make(chan struct{})}
	sw.wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		next := "v2"
		for {
			select {
			case <-ctx.Done():
				return
			case <-sw.quit:
				return
			case <-t.C:
			}
			start := time.Now()
			err := fn(ctx, next)
			sw.busy += time.Since(start)
			if err != nil {
				sw.errs++
				sw.lastErr = err
				continue
			}
			sw.n++
			next = map[string]string{"v1": "v2", "v2": "v1"}[next]
		}
	})
	return sw
}

// stop ends the switching loop after the switch in progress, if any.
func (sw *switcher) stop() {
	close(sw.quit)
	sw.wg.Wait()
}

func (sw *switcher) fill(r *switchRun) {
	r.Switches, r.SwitchErrors = sw.n, sw.errs
	if calls := sw.n + sw.errs; calls > 0 {
		r.SwitchMeanMS = float64(sw.busy.Microseconds()) / 1000 / float64(calls)
	}
	if sw.lastErr != nil {
		r.SwitchErr = sw.lastErr.Error()
	}
}

// switchTest measures failed requests while s is switched every
// h.switchEvery: wrk at each connection count, then loadcheck.
func (h *harness) switchTest(ctx context.Context, s *subject) []switchRun {
	var runs []switchRun
	tools := make([]switchRun, 0, len(h.conns)+1)
	for _, c := range h.conns {
		tools = append(tools, switchRun{Subject: s.Key, Tool: "wrk", Conns: c})
	}
	tools = append(tools, switchRun{Subject: s.Key, Tool: "loadcheck", Conns: h.conns[0]})
	for _, r := range tools {
		if ctx.Err() != nil {
			break
		}
		sw := startSwitcher(ctx, s.switchTo, h.switchEvery)
		if r.Tool == "wrk" {
			w, err := runWrk(ctx, wrkRun{URL: s.URL(), Conns: r.Conns, Duration: h.switchDuration,
				Script: h.luaScript, CPU: h.loadCPU, Log: h.wrkLog})
			sw.stop()
			r.fillWrk(w, err)
		} else {
			lc, err := h.runLoadcheck(ctx, s.URL(), r.Conns)
			sw.stop()
			r.fillLoadcheck(lc, err)
		}
		sw.fill(&r)
		r.Load = load1()
		runs = append(runs, r)
		h.log.Info("switch run", "subject", s.Key, "tool", r.Tool, "conns", r.Conns, "requests", r.Requests,
			"failed", r.Failed, "switches", r.Switches, "switch_errors", r.SwitchErrors, "err", r.Err)
		// Start every run from v1, as the speed runs did.
		if err := s.switchTo(ctx, "v1"); err != nil {
			h.log.Warn("switch back failed", "subject", s.Key, "err", err)
		}
	}
	return runs
}

func (r *switchRun) fillWrk(w wrkResult, err error) {
	if err != nil {
		r.Err = err.Error()
		return
	}
	r.Seconds = float64(w.DurationUS) / 1e6
	r.Requests, r.Failed = w.Requests, w.Failed()
	r.Detail = fmt.Sprintf("status>399 %d; socket connect %d, read %d, write %d, timeout %d",
		w.Status, w.Connect, w.Read, w.Write, w.Timeout)
}

func (r *switchRun) fillLoadcheck(lc loadcheckResult, err error) {
	if err != nil {
		r.Err = err.Error()
		return
	}
	r.Seconds, r.Requests, r.Failed, r.Backends = lc.Seconds, lc.Total, lc.Failed, lc.Backends
	parts := []string{fmt.Sprintf("non-2xx %d", lc.NonOK), fmt.Sprintf("transport errors %d", lc.Errors),
		fmt.Sprintf("bad body %d", lc.BadBody)}
	for _, k := range slices.Sorted(maps.Keys(lc.Status)) {
		parts = append(parts, fmt.Sprintf("HTTP %s: %d", k, lc.Status[k]))
	}
	for _, k := range slices.Sorted(maps.Keys(lc.ErrorKind)) {
		parts = append(parts, fmt.Sprintf("%s: %d", k, lc.ErrorKind[k]))
	}
	r.Detail = strings.Join(parts, "; ")
}

// loadcheckResult mirrors the JSON printed by bench/loadcheck.
type loadcheckResult struct {
	Total     int64            `json:"total"`
	Failed    int64            `json:"failed"`
	NonOK     int64            `json:"non_2xx"`
	Errors    int64            `json:"errors"`
	BadBody   int64            `json:"bad_body"`
	Status    map[string]int64 `json:"status"`
	ErrorKind map[string]int64 `json:"error_kinds"`
	Backends  map[string]int64 `json:"backends"`
	Seconds   float64          `json:"seconds"`
}

func (h *harness) runLoadcheck(ctx context.Context, url string, conns int) (loadcheckResult, error) {
	var lc loadcheckResult
	cmd := exec.CommandContext(ctx, "taskset", "-c", strconv.Itoa(h.loadCPU), h.binDir+"/loadcheck",
		"-url", url, "-duration", h.switchDuration.String(), "-c", strconv.Itoa(conns), "-fresh", "0.5")
	out, err := cmd.Output()
	if err != nil {
		return lc, fmt.Errorf("loadcheck: %w", err)
	}
	if err := json.Unmarshal(out, &lc); err != nil {
		return lc, fmt.Errorf("loadcheck output: %w", err)
	}
	return lc, nil
}
