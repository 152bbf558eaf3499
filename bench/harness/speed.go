package main

import (
	"context"
	"strconv"
	"time"
)

// speedRun is one measured wrk run against one subject.
type speedRun struct {
	Round   int    `json:"round"`
	Subject string `json:"subject"`
	Conns   int    `json:"conns"`
	// Workload is the key of the run's workload ("" in results recorded
	// before workloads: 100 B responses at Conns).
	Workload string `json:"workload,omitempty"`
	// IdleHeld is the number of idle keep-alive connections held open
	// during the run.
	IdleHeld int       `json:"idle_held,omitempty"`
	Wrk      wrkResult `json:"wrk"`
	// RSSKB is the peak summed VmRSS of the subject's processes during the run.
	RSSKB int64 `json:"rss_kb"`
	// HWMKB is the summed VmHWM of the subject's processes right after the run.
	HWMKB int64 `json:"hwm_kb"`
	// Load is the 1-minute load average right after the run.
	Load string `json:"loadavg"`
	Err  string `json:"error,omitempty"`
}

// speed runs the interleaved rounds: for each round and each workload,
// every subject in order (A B C D A B C D ...), each preceded by an
// unmeasured warm-up so idle upstream pools are refilled.
func (h *harness) speed(ctx context.Context, subs []*subject) []speedRun {
	var runs []speedRun
	for round := 1; round <= h.rounds; round++ {
		for _, wl := range h.workloads {
			for _, s := range subs {
				if ctx.Err() != nil {
					return runs
				}
				r := h.speedOnce(ctx, s, wl)
				r.Round = round
				runs = append(runs, r)
				h.log.Info("speed run", "round", round, "workload", wl.Key, "subject", s.Key,
					"rps", int64(r.Wrk.RPS()), "p50_us", r.Wrk.P50US, "p99_us", r.Wrk.P99US,
					"rss_kb", r.RSSKB, "failed", r.Wrk.Failed(), "err", r.Err)
			}
		}
	}
	return runs
}

func (h *harness) speedOnce(ctx context.Context, s *subject, wl workload) speedRun {
	r := speedRun{Subject: s.Key, Conns: wl.Conns, Workload: wl.Key}
	script, err := wl.script(h.workDir, h.luaScript)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	run := wrkRun{URL: s.URL() + wl.path(), Conns: wl.Conns, Script: script, CPU: h.loadCPU, Log: h.wrkLog}
	if wl.Idle > 0 {
		idle, err := holdIdle(ctx, "127.0.0.1:"+strconv.Itoa(s.Port), wl.Idle)
		if err != nil {
			r.Err = "holding idle connections: " + err.Error()
			return r
		}
		defer closeAll(idle)
		r.IdleHeld = len(idle)
	}
	if h.warmup > 0 {
		w := run
		w.Duration, w.Log = h.warmup, ""
		if _, err := runWrk(ctx, w); err != nil {
			r.Err = "warm-up: " + err.Error()
			return r
		}
	}
	var sampler *rssSampler
	if s.pid != 0 {
		sampler = sampleRSS(s.pid, 200*time.Millisecond)
	}
	run.Duration = h.duration
	w, err := runWrk(ctx, run)
	if sampler != nil {
		r.RSSKB, r.HWMKB = sampler.stop()
	}
	if err != nil {
		r.Err = err.Error()
	}
	r.Wrk, r.Load = w, load1()
	return r
}
