package main

import (
	"fmt"
	"strconv"
	"strings"
)

// busyLoad is the 1-minute load average per core above which the report
// calls the machine busy.
const busyLoad = 0.5

// report renders the Markdown report.
func report(r *results) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# cutover on one host: switch, rollback, memory\n\n")
	p("Written by `bench/deploy/run.sh` (program: `bench/deploy`). Raw numbers: `bench/deploy/results.json`.\n\n")
	p("| | |\n|---|---|\n")
	p("| date | %s |\n", r.Date.Format("2006-01-02 15:04 UTC"))
	p("| commit | %s |\n", r.Commit)
	p("| machine | %d CPUs, %s, Linux %s |\n", r.Machine.NProc, r.Machine.CPU, r.Machine.Kernel)
	p("| Go | %s |\n", r.GoVersion)
	var loads []string
	busy := false
	for _, l := range r.Loadavg {
		loads = append(loads, fmt.Sprintf("%s: %s", l.Phase, l.Loadavg))
		if f, err := strconv.ParseFloat(strings.Fields(l.Loadavg + " 0")[0], 64); err == nil && f > busyLoad*float64(r.Machine.NProc) {
			busy = true
		}
	}
	p("| load average (1/5/15 min) at the end of each phase | %s |\n\n", strings.Join(loads, "; "))
	if busy {
		p("**These numbers are from a busy machine**: other work shared the %d cores during the run (load averages above). "+
			"Tails (p99, max) include scheduling delays caused by that work; on an idle machine expect them lower, medians less so.\n\n", r.Machine.NProc)
	}
	writeSwitch(p, r)
	writeRollback(p, r)
	writeMemory(p, r)
	writeMethod(p, r)
	return b.String()
}

type printer func(format string, args ...any)

func distRow(p printer, name string, d dist) {
	p("| %s | %d | %s | %s | %s | %s | %s |\n", name, d.N, num(d.Min), num(d.P50), num(d.P90), num(d.P99), num(d.Max))
}

func num(x float64) string {
	switch {
	case x == 0:
		return "0"
	case x < 0 && x > -1 || x > 0 && x < 1:
		return strconv.FormatFloat(x, 'f', 3, 64)
	case x < 10 && x > -10:
		return strconv.FormatFloat(x, 'f', 2, 64)
	default:
		return strconv.FormatFloat(x, 'f', 1, 64)
	}
}

func distHeader(p printer, unit string) {
	p("| measure (%s) | n | min | p50 | p90 | p99 | max |\n|---|---|---|---|---|---|---|\n", unit)
}

func zeroT(*opRun) int64       { return 0 }
func gateT(o *opRun) int64     { return o.Gate }
func acceptedT(o *opRun) int64 { return o.Accepted }
func callT(o *opRun) int64     { return o.Call }
func allNewT(o *opRun) int64   { return o.AllNew }
func lastOldT(o *opRun) int64  { return o.LastOld }
func switchT(o *opRun) int64   { return o.Switch }
func returnT(o *opRun) int64   { return o.Return }
func doneT(o *opRun) int64     { return o.Done }
func publishUS(o *opRun) int64 { return o.SwitchUS * 1000 }

// lastOldOrGate is LastOld, or start when no request of the window got the
// old version (the crossing was before the first request).
func lastOld(start func(*opRun) int64) func(*opRun) int64 {
	return func(o *opRun) int64 {
		if o.LastOld == 0 {
			return start(o)
		}
		return o.LastOld
	}
}

func writeSwitch(p printer, r *results) {
	ops := settled(r.Deploys)
	p("## 1. Health gate passed → every new request on the new version (goal < 1 ms)\n\n")
	p("%d of %d deploys completed (switch strategy, one instance, v(n-1) → v(n)); %d of them show the crossing in the probe data.\n\n",
		len(r.Deploys), r.Wanted.Deploys, len(ops))
	distHeader(p, "ms")
	e2e := summarise(msBetween(ops, allNewT, gateT))
	distRow(p, "**switch latency**: gate passed → send time of the first request from which on every request got the new version [client − server clock]", e2e)
	distRow(p, "gate passed → send time of the last request that still got the old version [client − server clock]", summarise(msBetween(ops, lastOld(gateT), gateT)))
	distRow(p, "probe blind spot around the switch: last old → first of the all-new run (send times) [client clock]", summarise(msBetween(ops, allNewT, lastOld(gateT))))
	distRow(p, "gate passed → switch event, emitted after the publish and the persisting of the new state: ≈ one atomic state write during the run [server clock]", summarise(msBetween(ops, switchT, gateT)))
	distRow(p, "route publish inside the controller (`switch_us`) [server timer]", summarise(msBetween(ops, publishUS, zeroT)))
	distRow(p, "whole deploy: API call → done event [client → server clock]", summarise(msBetween(r.Deploys, doneT, callT)))
	p("\nGoal < 1 ms: %s at p50 (%s ms), %s at p99 (%s ms). The probe sends a request every %.0f µs at the median (p99 %.0f µs); "+
		"when the machine stalls both probe clients, the blind spot widens and the switch latency with it (see the blind-spot row). "+
		"A negative value means the first request of the all-new run was sent just before the gate event was stamped and reached "+
		"the proxy after the new table was published.\n\n",
		verdict(e2e.P50 < 1), num(e2e.P50), verdict(e2e.P99 < 1), num(e2e.P99), r.Probe.GapP50US, r.Probe.GapP99US)
}

func writeRollback(p printer, r *results) {
	ops := settled(r.Rollbacks)
	p("## 2. Rollback to the warm standby (goal < 100 ms)\n\n")
	p("%d of %d rollbacks completed; %d show the crossing in the probe data. Each follows its own deploy (standby = the version live before it).\n\n",
		len(r.Rollbacks), r.Wanted.Rollbacks, len(ops))
	if len(r.Rollbacks) == 0 {
		return
	}
	distHeader(p, "ms")
	e2e := summarise(msBetween(ops, allNewT, callT))
	distRow(p, "**rollback latency**: API call issued → send time of the first request from which on every request got the standby [client clock]", e2e)
	distRow(p, "API call issued → send time of the last request that still got the rolled-back version [client clock]", summarise(msBetween(ops, lastOld(callT), callT)))
	distRow(p, "API call issued → API answered (operation accepted) [client clock]", summarise(msBetween(r.Rollbacks, returnT, callT)))
	distRow(p, "API call issued → rollback event [client → server clock]", summarise(msBetween(r.Rollbacks, switchT, callT)))
	distRow(p, "accepted event → rollback event: persist the operation, check the standby, publish, persist the result [server clock]", summarise(msBetween(r.Rollbacks, switchT, acceptedT)))
	distRow(p, "route publish inside the controller (`switch_us`) [server timer]", summarise(msBetween(r.Rollbacks, publishUS, zeroT)))
	distRow(p, "one atomic state write on this disk (write, fsync, rename, fsync dir; timed by the benchmark after the runs) [client timer]", summarise(r.AtomicWriteMS))
	distRow(p, "whole rollback: API call → done event, including draining and stopping the rolled-back version [client → server clock]", summarise(msBetween(r.Rollbacks, doneT, callT)))
	p("\nGoal < 100 ms: %s at p50 (%s ms), %s at p99 (%s ms); max %s ms. ", verdict(e2e.P50 < 100), num(e2e.P50),
		verdict(e2e.P99 < 100), num(e2e.P99), num(e2e.Max))
	p("Before it publishes the standby's routes, the controller persists the operation (one atomic write, two fsyncs) " +
		"and checks the standby; the tail follows the persist time, as the deploy's \"gate passed → switch event\" row shows " +
		"for the write that comes after its publish.\n\n")
	d := settled(r.RollbackDeploys)
	p("The %d deploys that set up the rollbacks, measured like section 1 (gate passed → all new, ms): p50 %s, p99 %s, max %s.\n\n",
		len(d), num(summarise(msBetween(d, allNewT, gateT)).P50), num(summarise(msBetween(d, allNewT, gateT)).P99), num(summarise(msBetween(d, allNewT, gateT)).Max))
}

func writeMemory(p printer, r *results) {
	mb := func(kb int64) string { return fmt.Sprintf("%.1f MB", float64(kb)/1024) }
	p("## 3. Memory of `cutover serve` (goal ≤ 30 MB under load)\n\n")
	p("The serve process alone (`/proc/<pid>/status`); the app instances are separate processes and not counted.\n\n")
	p("| state | VmRSS | VmHWM (peak so far) |\n|---|---|---|\n")
	p("| idle, after startup and one deploy | %s | %s |\n", mb(r.IdleMem.RSS), mb(r.IdleMem.HWM))
	p("| under load: %d keep-alive connections, %.0f s (`wrk -t2`), sampled every 100 ms (%d samples) | %s (max) | %s |\n",
		r.Load.Conns, r.Load.Seconds, r.Load.Samples, mb(r.Load.MaxRSS), mb(r.Load.HWM))
	p("| after all deploys and rollbacks (%d operations) | %s | %s |\n\n",
		len(r.Deploys)+len(r.RollbackDeploys)+len(r.Rollbacks), mb(r.EndMem.RSS), mb(r.EndMem.HWM))
	p("Load run: %.0f req/s through the proxy, p99 %s, errors: %s.\n\n", r.Load.ReqPerSec, r.Load.Latency99, r.Load.Errors)
	peak := max(r.Load.HWM, r.Load.MaxRSS)
	p("Goal ≤ 30 MB under load: %s (peak %s, the larger of VmHWM and the largest VmRSS sample: the kernel updates VmHWM lazily, "+
		"so a sample can exceed it by a few pages).\n\n", verdict(peak <= 30*1024), mb(peak))
}

func writeMethod(p printer, r *results) {
	p("## Probe traffic\n\n")
	p("%d closed-loop probe clients, each a POST with a 1-byte body after the previous answer, on its own keep-alive connection "+
		"through the proxy, for %.0f s: %d requests, %d failed (transport error or non-200), send gap p50 %.0f µs / p99 %.0f µs, "+
		"round trip p50 %.0f µs / p99 %.0f µs. Operations whose window never settled on their version: %d.\n\n",
		r.Probes, r.Probe.Seconds, r.Probe.Requests, r.Probe.Failures, r.Probe.GapP50US, r.Probe.GapP99US,
		r.Probe.RTTP50US, r.Probe.RTTP99US, r.Probe.Unsettled)
	if len(r.Errors) > 0 {
		p("Operations that failed (left out of the tables):\n\n")
		for _, e := range r.Errors {
			p("- %s\n", e)
		}
		p("\n")
	}
	p(`## Method

- ` + "`cutover serve`" + ` runs one service of the process runtime: the hidden ` + "`cutover sample-app`" + ` on a pair of ports,
  health-gated on ` + "`/healthz`" + ` every 100 ms with 2 consecutive successes, switch strategy, standby window 10 min,
  access log off. Proxy, controller and admin API (unix socket) are the one serve process.
- The benchmark program drives it through the admin API client (` + "`internal/api`" + `) exactly as the CLI does: for each
  operation it records the client wall-clock time of the API call, then reads the operation's events.
- **Gate-pass time** is the time stamp of the gate event "… healthy after N probes" (the controller emits it the moment
  the health gate returns success). The alternative, "switch event time − switch_us", is not the gate time: the switch
  event is emitted after the new routing is published *and* the new state is persisted to disk, so it lies later by the
  persist time and misses the gap between gate and publish entirely. The row "gate passed → switch event" shows that
  whole server-side path.
- **Switch latency** = (send time of the earliest probe request after which every request sent got the new version)
  − (gate-pass time). The probe window of an operation runs from its API call to the next operation's call; any request
  that got another version or failed counts as "old". This is what a client sees. The instant the table was published
  lies after the send time of the last request that got the old version (the proxy read that request later still) and
  before the first all-new request reached the proxy; the two send times bracket it, and the "blind spot" row gives
  the width of that bracket, normally one or two probe gaps.
- **Rollback latency** = (send time of the earliest request after which every request got the standby version) − (client
  time just before the rollback API call): what an operator sees after typing ` + "`cutover rollback`" + `.
- ` + "`switch_us`" + ` is the controller's own timer around publishing the new routing table (one atomic swap), from the
  switch / rollback event.
- Clocks: everything runs on one machine. Client times are ` + "`time.Now()`" + ` in the benchmark process; event times are
  ` + "`time.Now()`" + ` in serve, sent as RFC 3339 wall-clock times. Both read the same kernel CLOCK_REALTIME, so there is no
  skew between them, but a wall-clock step (NTP) during the run would shift every difference across the two processes
  by the size of the step; each row names the clocks it uses. Within one process Go measures durations on the monotonic
  clock, but event times cross the API as wall-clock time stamps, so all cross-process rows are wall clock.
- Memory: VmRSS and VmHWM of the serve process from ` + "`/proc/<pid>/status`" + `: once idle (2 s after one deploy), sampled
  every 100 ms during the wrk run (VmHWM read at its end is the lifetime peak, which so far was the load run), and once
  at the end.
`)
	p("- Probe settle time after each operation's done event before the next call: %s.\n", r.Settle)
}

func verdict(ok bool) string {
	if ok {
		return "**met**"
	}
	return "**not met**"
}
