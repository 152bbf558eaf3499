package main

import (
	"fmt"
	"strconv"
	"strings"
)

// busyLoad is the 1-minute load average per core above which the report
// calls the machine busy.
const busyLoad = 0.5

// mixedGoalMS and mixedAimMS are issue 10's bound on the mixed-version
// window with 5 hosts, and what it aims for.
const (
	mixedGoalMS = 50
	mixedAimMS  = 10
)

type printer func(format string, args ...any)

// report renders the Markdown report.
func report(r *results) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# cutover fleet deploys: commit → last host switched\n\n")
	p("Written by `bench/fleet/run.sh` (programs: `bench/fleet` and `BenchmarkFleetCommit` in `internal/fleet`). Raw numbers: `bench/fleet/results.json`.\n\n")
	p("| | |\n|---|---|\n")
	p("| date | %s |\n", r.Date.Format("2006-01-02 15:04 UTC"))
	p("| commit | %s |\n", r.Commit)
	p("| machine | %d CPUs, %s, %d MB, Linux %s, %s |\n", r.Machine.NProc, r.Machine.CPU, r.Machine.MemMB, r.Machine.Kernel, r.Machine.OS)
	p("| Go | %s |\n", r.GoVersion)
	p("| etcd | %s, one member on loopback, data on the local disk (fsync on), default `--max-txn-ops` 128 |\n", r.EtcdVersion)
	if r.Command != "" {
		p("| command | `%s` |\n", r.Command)
	}
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
		p("**These numbers are from a busy machine**: the fleet, etcd and the probe share %d cores, and the load averages above "+
			"include other work. Tails (p99, max) include scheduling delays; medians suffer less.\n\n", r.Machine.NProc)
	}
	writeSwitch(p, r)
	writeMixed(p, r)
	writeBatched(p, r)
	writeSimCPU(p, r)
	writeErrors(p, r)
	writeMethod(p, r)
	return b.String()
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

func verdict(ok bool) string {
	if ok {
		return "**met**"
	}
	return "**not met**"
}

// msOf returns f of every deploy in milliseconds.
func msOf[T any](xs []T, f func(T) float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

func commitPath(checks []int) string {
	lo, hi := -1, -1
	for _, c := range checks {
		if lo < 0 || c < lo {
			lo = c
		}
		hi = max(hi, c)
	}
	switch {
	case hi <= 0:
		return "one transaction"
	case lo == hi:
		return fmt.Sprintf("%d batch checks + one transaction", hi)
	default:
		return fmt.Sprintf("%d–%d batch checks + one transaction", lo, hi)
	}
}

func writeSwitch(p printer, r *results) {
	p("## 1. Commit → last host switched\n\n")
	p("One transaction commits a fleet deploy; every host then sees the commit in its watch, publishes its routing table " +
		"and records `deploys/<id>/switched/<host>` with the time it switched. The deploys run one after another, each " +
		"through the next host as coordinator, v(n-1) → v(n).\n\n")
	p("- **commit → last switched** is `last_switch_us` of the coordinator's done event: the last host's switch time − the " +
		"time the coordinator's own mirror of etcd showed its commit. This is the protocol's own figure.\n")
	p("- **commit transaction → last switched** is the last host's switch time − the time in the committed state record, " +
		"stamped by the coordinator just before it sends the commit transaction (both read back from etcd by an observer): " +
		"it adds the transaction's own round trip and the coordinator's watch.\n")
	p("- **first → last switched** is the spread of the hosts' switch times (from their acks in etcd): how long some " +
		"hosts served the new version while others still served the old one, as the hosts tell it.\n")
	p("- **whole deploy**: API call → done event (processes), `Deploy` call → done event (simulated): plan, prepare (each real " +
		"host starts the new version and health-gates it: 2 checks 100 ms apart), commit, switch, finalize.\n\n")
	p("| fleet | deploys | commit → last switched p50 / p99 / max (ms) | commit transaction → last switched p50 / p99 (ms) | first → last switched p50 / p99 (ms) | whole deploy p50 / p99 (ms) | commit |\n")
	p("|---|---|---|---|---|---|---|\n")
	for _, fr := range r.Fleets {
		ok := fr.ok()
		sw := summarise(msOf(ok, func(d *deployRun) float64 { return float64(d.SwitchUS) / 1e3 }))
		txn := summarise(msOf(ok, func(d *deployRun) float64 { return float64(d.txnToLastUS()) / 1e3 }))
		spread := summarise(msOf(ok, func(d *deployRun) float64 { return float64(d.spreadUS()) / 1e3 }))
		all := summarise(msOf(ok, func(d *deployRun) float64 { return float64(d.Done-d.Call) / 1e6 }))
		checks := make([]int, len(ok))
		for i, d := range ok {
			checks[i] = d.Checks
		}
		p("| %d `cutover serve` processes | %d of %d | **%s** / **%s** / %s | %s / %s | %s / %s | %s / %s | %s |\n", fr.Hosts, len(ok), r.Settings.Deploys,
			num(sw.P50), num(sw.P99), num(sw.Max), num(txn.P50), num(txn.P99), num(spread.P50), num(spread.P99), num(all.P50), num(all.P99), commitPath(checks))
	}
	for _, s := range r.Simulated {
		sw := summarise(msOf(s.Deploys, func(d simDepl) float64 { return float64(d.SwitchUS) / 1e3 }))
		txn := summarise(msOf(s.Deploys, func(d simDepl) float64 { return float64(d.TxnToLastUS) / 1e3 }))
		spread := summarise(msOf(s.Deploys, func(d simDepl) float64 { return float64(d.SpreadUS) / 1e3 }))
		all := summarise(msOf(s.Deploys, func(d simDepl) float64 { return float64(d.TotalUS) / 1e3 }))
		checks := make([]int, len(s.Deploys))
		for i, d := range s.Deploys {
			checks[i] = d.Checks
		}
		p("| %d simulated hosts in one process | %d | **%s** / **%s** / %s | %s / %s | %s / %s | %s / %s | %s |\n", s.Agents, len(s.Deploys),
			num(sw.P50), num(sw.P99), num(sw.Max), num(txn.P50), num(txn.P99), num(spread.P50), num(spread.P99), num(all.P50), num(all.P99), commitPath(checks))
	}
	p("\nPercentiles are nearest-rank: with fewer than 100 deploys p99 is the largest value, so read it as \"the worst seen\".\n\n")
	if len(r.Simulated) > 0 {
		p("Simulated hosts are real fleet agents (`internal/fleet`), each with its own etcd connection, lease and watch, " +
			"driving an in-memory host instead of a controller: no app starts, so their deploys measure the protocol alone. " +
			"All of them share this machine's CPUs, so every host's work on every change of the fleet adds up in one place; " +
			"on real machines each host does its share in parallel (section 4).\n\n")
	}
}

func writeMixed(p printer, r *results) {
	if len(r.Fleets) == 0 {
		return
	}
	p("## 2. Mixed-version window seen by clients (processes)\n\n")
	p("%d probe workers send POST requests to every host's proxy in turn (no load balancer in between), each on one "+
		"keep-alive connection per host. For each deploy, the window is from the answer of the first request the new "+
		"version served to the sending of the last request the old version served, over the requests sent between this "+
		"deploy's API call and the next one's (0 when they do not overlap). It is a lower bound: the probe looks at each "+
		"host once per interval in the last column.\n\n", r.Settings.Probes)
	p("| hosts | deploys with both versions seen | mixed window p50 / p99 / max (ms) | requests | failed | interval between two requests to one host p50 / p99 (ms) |\n")
	p("|---|---|---|---|---|---|\n")
	for _, fr := range r.Fleets {
		var ws []float64
		for _, d := range fr.ok() {
			if d.Crossing.Seen {
				ws = append(ws, float64(d.Crossing.MixedNS)/1e6)
			}
		}
		w := summarise(ws)
		p("| %d | %d of %d | **%s** / **%s** / %s | %d | %d | %s / %s |\n", fr.Hosts, len(ws), len(fr.ok()), num(w.P50), num(w.P99), num(w.Max),
			fr.Probe.Requests, fr.Probe.Failures, num(fr.Probe.HostGapP50US/1e3), num(fr.Probe.HostGapP99US/1e3))
	}
	for _, fr := range r.Fleets {
		if fr.Hosts != 5 {
			continue
		}
		var ws []float64
		for _, d := range fr.ok() {
			if d.Crossing.Seen {
				ws = append(ws, float64(d.Crossing.MixedNS)/1e6)
			}
		}
		w := summarise(ws)
		spread := summarise(msOf(fr.ok(), func(d *deployRun) float64 { return float64(d.spreadUS()) / 1e3 }))
		sw := summarise(msOf(fr.ok(), func(d *deployRun) float64 { return float64(d.SwitchUS) / 1e3 }))
		goal := func(d dist) string {
			return fmt.Sprintf("p99 %s ms: bound %s, aim %s", num(d.P99), verdict(d.N > 0 && d.P99 < mixedGoalMS), verdict(d.N > 0 && d.P99 < mixedAimMS))
		}
		p("\nIssue 10's bound for 5 hosts is a mixed-version window p99 < %d ms (aim < %d ms). As the probe saw it: %s. "+
			"As the hosts' switch times spread (first → last switched): %s. Commit → last switched, the longest a host serves "+
			"the old version after the fleet decided: %s.\n", mixedGoalMS, mixedAimMS, goal(w), goal(spread), goal(sw))
	}
	p("\n")
}

func writeBatched(p printer, r *results) {
	p("## 3. Plans beyond ~120 hosts (etcd `--max-txn-ops` 128)\n\n")
	p("One etcd transaction takes at most `--max-txn-ops` compares (default 128). The commit compares the lock, the " +
		"committed version's revision and the deploy's state, plus one prepared report per host; past 120 hosts " +
		"(`maxCompares` in `internal/fleet/coordinator.go`) the coordinator first checks the reports in batches of 120, each " +
		"batch one transaction that records `deploys/<id>/checked/<i>` only if every report of the batch exists, and the " +
		"commit transaction then compares those records instead of the reports. A host lost between its batch and the " +
		"commit is handled like a host lost right after the commit (it converges when it returns, and is not ready until then).\n\n")
	any := false
	for _, s := range r.Simulated {
		if s.Agents <= 120 {
			continue
		}
		any = true
		checks := make([]int, len(s.Deploys))
		for i, d := range s.Deploys {
			checks[i] = d.Checks
		}
		p("- **%d hosts**: %d of %d deploys committed, each through %s; every host switched in every deploy.", s.Agents, len(s.Deploys), len(s.Deploys), commitPath(checks))
		if s.SingleTxnRefused != "" {
			p(" The same etcd refused one transaction of %d compares (what a commit without batches would send): `%s`.", s.Agents+3, s.SingleTxnRefused)
		}
		p("\n")
	}
	if !any {
		p("No fleet above 120 hosts was run.\n")
	}
	p("\n")
}

func writeSimCPU(p printer, r *results) {
	if len(r.Simulated) == 0 {
		return
	}
	p("## 4. Simulated hosts: CPU per host and deploy\n\n")
	p("Every host mirrors every key under the fleet's prefix and re-evaluates the fleet on every change, and a deploy " +
		"makes a few changes per host (prepared report, commit, switched ack, host record), so one host's work per deploy " +
		"grows with the square of the fleet size. The benchmark process's CPU time (user + system; etcd not included) per " +
		"deploy and host:\n\n")
	p("| hosts | CPU per host per deploy (ms) | all hosts per deploy (s of CPU) | prepare p50 (ms) |\n|---|---|---|---|\n")
	for _, s := range r.Simulated {
		prep := summarise(msOf(s.Deploys, func(d simDepl) float64 { return float64(d.PrepareUS) / 1e3 }))
		p("| %d | %s | %s | %s |\n", s.Agents, num(s.CPUPerHostDeployMS), num(s.CPUPerHostDeployMS*float64(s.Agents)/1e3), num(prep.P50))
	}
	p("\nWhen the hosts' total exceeds what the machine's cores give in the time of a deploy, the simulated fleet is " +
		"CPU-bound and its switch times measure the queue for the CPU rather than the protocol.\n\n")
}

func writeErrors(p printer, r *results) {
	var errs []string
	for _, fr := range r.Fleets {
		for _, e := range fr.Errors {
			errs = append(errs, fmt.Sprintf("%d hosts: %s", fr.Hosts, e))
		}
	}
	if len(errs) == 0 {
		return
	}
	p("## Deploys that failed (left out of the tables)\n\n")
	for _, e := range errs {
		p("- %s\n", e)
	}
	p("\n")
}

func writeMethod(p printer, r *results) {
	p("## Method\n\n")
	p("- **Processes**: the built `cutover` binary, one `cutover serve` a host (own config, state dir, admin socket, proxy " +
		"port, two app ports), `cluster.backend: etcd` on one etcd started fresh for each fleet size, " +
		fmt.Sprintf("`lease_ttl: %s`. ", r.Settings.LeaseTTL) +
		"One process service: the hidden `cutover sample-app` health-gated on `/healthz` every 100 ms with 2 consecutive " +
		"successes, switch strategy, standby window 10 min. The benchmark deploys through each coordinator's admin API " +
		"client (`internal/api`) as the CLI does and reads the operation's events; a first deploy (not measured) gives the " +
		"service its first committed version. After each deploy it waits until every host's `/.cutover/ready` answers 200, " +
		fmt.Sprintf("then %s more with the probe running.\n", r.Settings.Settle))
	if len(r.Simulated) > 0 {
		p("- **Simulated hosts**: `BenchmarkFleetCommit` (`internal/fleet/bench_fleet_test.go`), run as `%s`: fleet agents "+
			"with an in-memory host (prepare and switch return at once) against the etcd binary, one member, data in a "+
			"temporary directory; every agent has its own etcd client. Their lease TTL is 15 s instead of 5 s, because all of "+
			"them share this machine's CPUs and a renewal waiting that long for a CPU would drop a host; the commit path does "+
			"not depend on it. After each deploy: every agent ready, then 100 ms.\n", r.SimCommand)
	}
	p("- Clocks: everything runs on one machine, so the hosts' switch times, the coordinator's commit time and the benchmark's " +
		"own times read one CLOCK_REALTIME, compared as wall-clock time stamps (events and records carry RFC 3339 times).\n")
}
