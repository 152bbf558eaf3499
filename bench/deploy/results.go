package main

import (
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// results is everything the report shows; it is also written as JSON.
type results struct {
	Date      time.Time     `json:"date"`
	Commit    string        `json:"commit"`
	Machine   machine       `json:"machine"`
	GoVersion string        `json:"go_version"`
	Loadavg   []phaseLoad   `json:"loadavg"`
	Probes    int           `json:"probes"`
	Settle    time.Duration `json:"settle_ns"`
	IdleMem   memSample     `json:"idle_mem_kb"`
	Load      loadResult    `json:"load"`
	EndMem    memSample     `json:"end_mem_kb"`
	Deploys   []*opRun      `json:"deploys"`
	// RollbackDeploys are the deploys that set up each rollback run.
	RollbackDeploys []*opRun `json:"rollback_deploys"`
	Rollbacks       []*opRun `json:"rollbacks"`
	Errors          []string `json:"errors,omitempty"`
	// AtomicWriteMS times atomic file replacements on the state directory's
	// disk, as the local store does them, after the operations.
	AtomicWriteMS []float64 `json:"atomic_write_ms"`
	Probe         probeSum  `json:"probe"`
	ServeLog      string    `json:"serve_log"`
	Wanted        struct {
		Deploys, Rollbacks int
	} `json:"wanted"`
}

// phaseLoad is the load average when a phase ended.
type phaseLoad struct {
	Phase   string `json:"phase"`
	Loadavg string `json:"loadavg"`
}

// probeSum describes the probe traffic as a whole.
type probeSum struct {
	Requests  int     `json:"requests"`
	Failures  int     `json:"failures"`
	Seconds   float64 `json:"seconds"`
	GapP50US  float64 `json:"gap_p50_us"`
	GapP99US  float64 `json:"gap_p99_us"`
	RTTP50US  float64 `json:"rtt_p50_us"`
	RTTP99US  float64 `json:"rtt_p99_us"`
	Unsettled int     `json:"unsettled"`
}

// machine describes where the numbers were taken.
type machine struct {
	NProc  int    `json:"nproc"`
	CPU    string `json:"cpu"`
	Kernel string `json:"kernel"`
}

func newResults(o options) *results {
	r := &results{Date: time.Now().UTC(), Commit: o.commit, GoVersion: runtime.Version(), Probes: o.probes, Settle: o.settle}
	r.Wanted.Deploys, r.Wanted.Rollbacks = o.deploys, o.rollbacks
	r.Machine.NProc = runtime.NumCPU()
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		r.Machine.Kernel = strings.TrimSpace(string(b))
	}
	r.Machine.CPU = "unknown"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				r.Machine.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	r.mark("start")
	return r
}

// mark records the load average at the end of a phase.
func (r *results) mark(phase string) {
	r.Loadavg = append(r.Loadavg, phaseLoad{phase, loadavg()})
}

// analyse gives every operation its probe window (up to the next
// operation's call) and finds where traffic crossed over in it.
func (r *results) analyse(ops []*opRun, recs []record, probed time.Duration) {
	for i, op := range ops {
		op.End = recs[len(recs)-1].send + 1
		if i+1 < len(ops) {
			op.End = ops[i+1].Call
		}
		c := findCrossing(recs, op.Call, op.End, op.Version)
		op.LastOld, op.AllNew, op.Requests, op.Failures = c.lastOld, c.allNew, c.requests, c.failures
		if op.Done != 0 && c.allNew == 0 {
			r.Probe.Unsettled++
		}
	}
	r.Probe.Requests = len(recs)
	r.Probe.Seconds = probed.Seconds()
	gaps := make([]float64, 0, len(recs))
	rtts := make([]float64, 0, len(recs))
	for i, rec := range recs {
		if !rec.ok {
			r.Probe.Failures++
		}
		if i > 0 {
			gaps = append(gaps, float64(rec.send-recs[i-1].send)/1e3)
		}
		rtts = append(rtts, float64(rec.recv-rec.send)/1e3)
	}
	g, t := summarise(gaps), summarise(rtts)
	r.Probe.GapP50US, r.Probe.GapP99US = g.P50, g.P99
	r.Probe.RTTP50US, r.Probe.RTTP99US = t.P50, t.P99
}

// settled returns the operations whose probe window shows the crossing.
func settled(ops []*opRun) []*opRun {
	return slices.DeleteFunc(slices.Clone(ops), func(o *opRun) bool { return o.AllNew == 0 })
}

// msSince returns, for each op, (f(op) - g(op)) in milliseconds.
func msBetween(ops []*opRun, end, start func(*opRun) int64) []float64 {
	out := make([]float64, 0, len(ops))
	for _, o := range ops {
		out = append(out, float64(end(o)-start(o))/1e6)
	}
	return out
}
