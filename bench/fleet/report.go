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
	writeCPU(p, r)
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
	p("One transaction commits a fleet deploy; every host then sees the commit in its watch, persists its new state, " +
		"publishes its routing table and records `deploys/<id>/switched/<host>` with the time it switched. The deploys run " +
		"one after another, each through the next host as coordinator, v(n-1) → v(n).\n\n")
	p("- **commit → last switched** is `last_switch_us` of the coordinator's done event: the last host's switched ack " +
		"time − the time the coordinator's own mirror of etcd showed its commit. This is the protocol's own figure.\n")
	p("- **commit transaction → last published** is from the time in the committed state record (stamped by the " +
		"coordinator just before it sends the commit transaction, read back from etcd) to the last host's routing " +
		"publish: the time of its controller's `switch` event, emitted right after the swap, read from every host's event " +
		"stream. It adds the transaction's round trip and the coordinator's watch to the figure before, and ends at the swap " +
		"itself rather than at the ack stamped after it.\n")
	p("- **first → last published** is the spread of the hosts' routing publishes: the mixed-version window as the hosts' " +
		"routing tables tell it (section 2).\n")
	p("- **whole deploy**: API call → done event (processes), `Deploy` call → done event (simulated): plan, prepare (each real " +
		"host starts the new version and health-gates it: 2 checks 100 ms apart), commit, switch, finalize.\n\n")
	p("| fleet | deploys | commit → last switched p50 / p99 / max (ms) | commit transaction → last published p50 / p99 (ms) | first → last published p50 / p99 (ms) | whole deploy p50 / p99 (ms) | commit |\n")
	p("|---|---|---|---|---|---|---|\n")
	for _, fr := range r.Fleets {
		ok := fr.ok()
		sw := summarise(msOf(ok, func(d *deployRun) float64 { return float64(d.SwitchUS) / 1e3 }))
		txn := summarise(msOf(ok, func(d *deployRun) float64 { return float64(d.txnToPublishUS()) / 1e3 }))
		spread := summarise(msOf(ok, func(d *deployRun) float64 { return float64(d.publishSpreadUS()) / 1e3 }))
		all := summarise(msOf(ok, func(d *deployRun) float64 { return float64(d.Done-d.Call) / 1e6 }))
		checks := make([]int, len(ok))
		for i, d := range ok {
			checks[i] = d.Checks
		}
		p("| %d `cutover serve` processes, state on %s | %d of %d | **%s** / **%s** / %s | %s / %s | %s / %s | %s / %s | %s |\n", fr.Hosts, fr.Storage, len(ok), r.Settings.Deploys,
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
		p("| %d simulated hosts in one process | %d of %d | **%s** / **%s** / %s | %s / %s ¹ | %s / %s ¹ | %s / %s | %s |\n", s.Agents, len(s.Deploys), len(s.Deploys)+len(s.Failed),
			num(sw.P50), num(sw.P99), num(sw.Max), num(txn.P50), num(txn.P99), num(spread.P50), num(spread.P99), num(all.P50), num(all.P99), commitPath(checks))
	}
	p("\nPercentiles are nearest-rank: with fewer than 100 deploys p99 is the largest value, so read it as \"the worst seen\".")
	if len(r.Simulated) > 0 {
		p(" ¹ A simulated host has no routing table: its switched ack, stamped when its in-memory switch returned, stands for the publish.")
	}
	p("\n\n")
	writeStorage(p, r)
	if len(r.Simulated) > 0 {
		p("Simulated hosts are real fleet agents (`internal/fleet`), each with its own etcd connection, lease and watch, " +
			"driving an in-memory host instead of a controller: no app starts and nothing is persisted, so their deploys " +
			"measure the protocol alone. All of them share this machine's CPUs, so every host's work on every change of the " +
			"fleet adds up in one place; on real machines each host does its share in parallel (section 4).\n\n")
	}
}

// probeWindows returns the mixed-version windows the probe saw and its
// longest pauses while the hosts switched, in ms.
func probeWindows(fr *fleetRun) (windows, pauses []float64) {
	for _, d := range fr.ok() {
		if d.Crossing.Seen {
			windows = append(windows, float64(d.Crossing.MixedNS)/1e6)
		}
		pauses = append(pauses, float64(d.Crossing.PauseNS)/1e6)
	}
	return windows, pauses
}

// writeStorage compares the fleets run with their state on disk and on tmpfs.
func writeStorage(p printer, r *results) {
	sw := func(fr *fleetRun) dist {
		return summarise(msOf(fr.ok(), func(d *deployRun) float64 { return float64(d.txnToPublishUS()) / 1e3 }))
	}
	var lines []string
	for _, disk := range r.Fleets {
		for _, tmp := range r.Fleets {
			if disk.Storage != storageDisk || tmp.Storage != storageTmpfs || disk.Hosts != tmp.Hosts {
				continue
			}
			d, t := sw(disk), sw(tmp)
			lines = append(lines, fmt.Sprintf("%d hosts: p50 %s → %s ms, p99 %s → %s ms", disk.Hosts, num(d.P50), num(t.P50), num(d.P99), num(t.P99)))
		}
	}
	if len(lines) == 0 {
		return
	}
	p("Each host persists its new state (an atomic file write with fsync) before it publishes the new routing (invariant 5), " +
		"and etcd fsyncs every write. Here every host and etcd share one disk, so at the commit all of them queue on it at once; " +
		"on a real fleet each host writes to its own disk. Commit transaction → last published with the state and etcd's " +
		"data on disk → on tmpfs (no fsync): " + strings.Join(lines, "; ") + ".\n\n")
}

func writeMixed(p printer, r *results) {
	if len(r.Fleets) == 0 {
		return
	}
	p("## 2. Mixed-version window (processes)\n\n")
	p("While the hosts switch one after another, some serve the new version and some the old: the window is **first → "+
		"last published**, from the hosts' own publish times. A probe checks from outside: %d workers send POST requests to "+
		"every host's proxy in turn (no load balancer in between), each on one keep-alive connection per host; for each "+
		"deploy its window is from the answer of the first request the new version served to the sending of the last "+
		"request the old version served, over the requests sent between this deploy's API call and the next one's (0 when "+
		"they do not overlap). The probe is a lower bound and a weak one here: it runs on the same two CPUs as the hosts, "+
		"which are busiest exactly while they switch, and the longest pause between two of its requests during the switch "+
		"(its blind spot) is often as long as the switch itself. It also shows that no request failed.\n\n", r.Settings.Probes)
	p("| hosts | state on | first → last published p50 / p99 / max (ms) | probe: deploys with both versions seen | probe: window p50 / p99 / max (ms) | probe: longest pause during the switch p50 / p99 (ms) | probe requests | failed | interval between two requests to one host p50 / p99 (ms) |\n")
	p("|---|---|---|---|---|---|---|---|---|\n")
	for _, fr := range r.Fleets {
		ws, ps := probeWindows(fr)
		w, pause := summarise(ws), summarise(ps)
		spread := summarise(msOf(fr.ok(), func(d *deployRun) float64 { return float64(d.publishSpreadUS()) / 1e3 }))
		p("| %d | %s | **%s** / **%s** / %s | %d of %d | %s / %s / %s | %s / %s | %d | %d | %s / %s |\n", fr.Hosts, fr.Storage,
			num(spread.P50), num(spread.P99), num(spread.Max), len(ws), len(fr.ok()), num(w.P50), num(w.P99), num(w.Max), num(pause.P50), num(pause.P99),
			fr.Probe.Requests, fr.Probe.Failures, num(fr.Probe.HostGapP50US/1e3), num(fr.Probe.HostGapP99US/1e3))
	}
	goal := func(d dist) string {
		return fmt.Sprintf("p99 %s ms: bound %s, aim %s", num(d.P99), verdict(d.N > 0 && d.P99 < mixedGoalMS), verdict(d.N > 0 && d.P99 < mixedAimMS))
	}
	for _, fr := range r.Fleets {
		if fr.Hosts != 5 {
			continue
		}
		spread := summarise(msOf(fr.ok(), func(d *deployRun) float64 { return float64(d.publishSpreadUS()) / 1e3 }))
		txn := summarise(msOf(fr.ok(), func(d *deployRun) float64 { return float64(d.txnToPublishUS()) / 1e3 }))
		p("\nIssue 10's bound for 5 hosts, mixed-version window p99 < %d ms (aim < %d ms), state on %s: first → last published %s. "+
			"Counted from the start of the commit transaction to the last publish: %s.\n",
			mixedGoalMS, mixedAimMS, fr.Storage, goal(spread), goal(txn))
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
		p("- **%d hosts**: %d of %d deploys committed, each through %s, and every host switched.", s.Agents, len(s.Deploys), len(s.Deploys)+len(s.Failed), commitPath(checks))
		if len(s.Failed) > 0 {
			p(" The others failed (see \"Deploys that failed\").")
		}
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

func writeCPU(p printer, r *results) {
	if len(r.Simulated) == 0 && len(r.Fleets) == 0 {
		return
	}
	p("## 4. CPU per host and deploy\n\n")
	p("Every host mirrors every key under the fleet's prefix and re-evaluates the fleet on every change, and a deploy " +
		"makes a few changes per host (prepared report, switched ack, host record updates), so one host's work per deploy " +
		"grows with the square of the fleet size. CPU time (user + system) over the measured deploys, including the pauses " +
		"between them, per deploy and host: for processes, the `cutover serve` processes' (their app instances not " +
		"counted), for simulated hosts the benchmark process's. A process's share is mostly not the fleet protocol: it " +
		"serves the probe's requests through its proxy, starts and health-checks the new version (every 100 ms, its " +
		"standby too) and drains the old one; a simulated host does nothing but the protocol.\n\n")
	p("| fleet | CPU per host per deploy (ms) | all hosts per deploy (s of CPU) | cores the hosts kept busy on average | etcd per deploy (ms of CPU) |\n|---|---|---|---|---|\n")
	for _, fr := range r.Fleets {
		p("| %d processes, state on %s | %s | %s | %s | %s |\n", fr.Hosts, fr.Storage, num(fr.CPUPerHostDeployMS),
			num(fr.CPUPerHostDeployMS*float64(fr.Hosts)/1e3), num(fr.Cores), num(fr.EtcdCPUPerDeployMS))
	}
	for _, s := range r.Simulated {
		p("| %d simulated hosts | %s | %s | %s | not measured |\n", s.Agents, num(s.CPUPerHostDeployMS),
			num(s.CPUPerHostDeployMS*float64(s.Agents)/1e3), num(s.Cores))
	}
	p("\nWhen the hosts keep close to all of the machine's %d cores busy (and other work, the load averages above, wants "+
		"them too), the fleet here is CPU-bound: its switch times then measure the queue for the CPU as much as the "+
		"protocol. An average hides bursts: right after a commit every host wakes at once. On real machines each host "+
		"spends only its own share on its own CPUs.\n\n", r.Machine.NProc)
}

func writeErrors(p printer, r *results) {
	var errs []string
	for _, fr := range r.Fleets {
		for _, e := range fr.Errors {
			errs = append(errs, fmt.Sprintf("%d processes, state on %s: %s", fr.Hosts, fr.Storage, e))
		}
	}
	for _, s := range r.Simulated {
		for _, e := range s.Failed {
			errs = append(errs, fmt.Sprintf("%d simulated hosts: %s", s.Agents, e))
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
		"port, two app ports), `cluster.backend: etcd` on one etcd started fresh for each fleet size, its data and the " +
		"hosts' state directories on the local disk (ext4 here) and, in the tmpfs rows, on tmpfs, " +
		fmt.Sprintf("`lease_ttl: %s`. ", r.Settings.LeaseTTL) +
		"One process service: the hidden `cutover sample-app` health-gated on `/healthz` every 100 ms with 2 consecutive " +
		"successes, switch strategy, standby window 10 min. The benchmark deploys through each coordinator's admin API " +
		"client (`internal/api`) as the CLI does and reads the operation's events; a first deploy (not measured) gives the " +
		"service its first committed version. After each deploy it waits until every host's `/.cutover/ready` answers 200, " +
		fmt.Sprintf("then %s more with the probe running.\n", r.Settings.Settle))
	if len(r.Simulated) > 0 {
		p("- **Simulated hosts**: `BenchmarkFleetCommit` (`internal/fleet/bench_fleet_test.go`), run as `%s`: fleet agents "+
			"with an in-memory host (prepare and switch return at once) against the etcd binary, one member, data in a "+
			"temporary directory; every agent has its own etcd client. Their lease TTL is %s instead of 5 s, because all of "+
			"them share this machine's CPUs (and etcd's) and a renewal waiting that long would drop a host; the commit path "+
			"does not depend on it. After each deploy: every agent ready, then 100 ms.\n", r.SimCommand, r.Simulated[0].LeaseTTL)
	}
	p("- Clocks: everything runs on one machine, so the hosts' switch times, the coordinator's commit time and the benchmark's " +
		"own times read one CLOCK_REALTIME, compared as wall-clock time stamps (events and records carry RFC 3339 times).\n")
}
