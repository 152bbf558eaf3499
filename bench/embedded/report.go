package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// dist is the median and range of some numbers.
type dist struct{ min, p50, max float64 }

func distOf(xs []float64) dist {
	if len(xs) == 0 {
		return dist{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return dist{min: s[0], p50: s[len(s)/2], max: s[len(s)-1]}
}

func (d dist) String() string {
	return fmt.Sprintf("%s (%s–%s)", num(d.p50), num(d.min), num(d.max))
}

func num(x float64) string {
	switch {
	case x >= 100:
		return fmt.Sprintf("%.0f", x)
	case x >= 10:
		return fmt.Sprintf("%.1f", x)
	}
	return fmt.Sprintf("%.2f", x)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func mb(kb int64) float64        { return float64(kb) / 1024 }

// measure collects one number from every process of every run; slowest
// takes, per run, the largest (a cluster is ready when its slowest member is).
func (r scenarioResult) measure(f func(sample) float64, slowest bool) dist {
	var xs []float64
	for _, run := range r.Samples {
		if slowest {
			m := 0.0
			for _, s := range run {
				m = max(m, f(s))
			}
			xs = append(xs, m)
			continue
		}
		for _, s := range run {
			xs = append(xs, f(s))
		}
	}
	return distOf(xs)
}

func ready(s sample) float64   { return ms(s.Ready) }
func lbReady(s sample) float64 { return ms(s.LBReady) }
func rss(s sample) float64     { return mb(s.RSSKB) }
func hwm(s sample) float64     { return mb(s.HWMKB) }
func anon(s sample) float64    { return mb(s.AnonKB) }
func etcdRSS(s sample) float64 { return mb(s.EtcdRSSKB) }

func report(r *results) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# What the embedded etcd server costs\n\n")
	p("Written by `bench/embedded/run.sh` (program: `bench/embedded`). Raw numbers: `bench/embedded/results.json`.\n\n")
	p("| | |\n|---|---|\n")
	p("| date | %s |\n", r.Date.Format("2006-01-02 15:04 UTC"))
	p("| commit | %s |\n", r.Commit)
	p("| machine | %d CPUs, %s, %d MB RAM, %s, Linux %s |\n", r.Machine.NProc, r.Machine.CPU, r.Machine.MemMB, r.Machine.OS, r.Machine.Kernel)
	p("| Go | %s |\n", r.GoVersion)
	p("| external etcd | %s |\n", r.EtcdBin)
	p("| runs per scenario | %d after one uncounted warm-up run; RSS read %s after ready, idle (a service configured, no instance running); fsync on (ext4) |\n", r.Runs, r.Settle)
	p("| load average (1/5/15 min) | %s |\n\n", strings.Join(r.Loadavg, "; "))

	p("## Binary\n\n")
	p("| build | size | stripped (`-ldflags \"-s -w\"`) | packages linked |\n|---|---|---|---|\n")
	d, e := r.Sizes["cutover"], r.Sizes["cutover-embedetcd"]
	ds, es := r.Sizes["cutover-stripped"], r.Sizes["cutover-embedetcd-stripped"]
	p("| default (`go build ./cmd/cutover`) | %.1f MB | %.1f MB | %d |\n", mbytes(d), mbytes(ds), r.Packages["cutover"])
	p("| embedetcd (`go build -tags embedetcd ./cmd/cutover`) | %.1f MB | %.1f MB | %d |\n", mbytes(e), mbytes(es), r.Packages["cutover-embedetcd"])
	p("| difference | **+%.1f MB (+%.0f%%)** | +%.1f MB (+%.0f%%) | +%d |\n\n", mbytes(e-d), pct(e, d), mbytes(es-ds), pct(es, ds),
		r.Packages["cutover-embedetcd"]-r.Packages["cutover"])

	p("## Before main\n\n")
	p("What every start pays for the linked packages, used or not (median and range of %d runs): the package init functions as `GODEBUG=inittrace=1` reports them, and the wall time of `cutover version`.\n\n", len(r.Init["cutover"].InitMS))
	p("| build | init functions (ms) | allocated by them (MB) | `cutover version`, exec → exit (ms) |\n|---|---|---|---|\n")
	for _, b := range []string{"cutover", "cutover-embedetcd"} {
		ic := r.Init[b]
		bytesMB := make([]float64, len(ic.InitBytes))
		for i, x := range ic.InitBytes {
			bytesMB[i] = x / 1e6
		}
		p("| %s | %s | %s | %s |\n", b, distOf(ic.InitMS), distOf(bytesMB), distOf(ic.VersionMS))
	}
	p("\n")
	p("## Start and memory of `cutover serve`\n\n")
	p("Median (min–max) over the runs. *ready*: exec → the ready line of `serve -o json` (listeners, admin API and fleet membership up); ")
	p("*LB ready*: exec → `GET /.cutover/ready` answers 200. RSS is the `cutover serve` process alone; *anon* is its private part (RssAnon), the rest is mapped files ")
	p("(the binary, and the member's data file `state_dir/etcd/member/snap/db`, 16 MB once written, which a restarted member maps and reads: page cache, shared and reclaimable); the external etcd's own RSS is its column.\n\n")
	p("| scenario | ready (ms) | LB ready (ms) | RSS (MB) | anon (MB) | peak RSS (MB) | external etcd RSS (MB) |\n|---|---|---|---|---|---|---|\n")
	for _, sc := range r.Scenarios {
		etcd := "—"
		if sc.Backend == "etcd" {
			etcd = sc.measure(etcdRSS, false).String()
		}
		p("| %s | %s | %s | %s | %s | %s | %s |\n", sc.Name, sc.measure(ready, false), sc.measure(lbReady, false), sc.measure(rss, false), sc.measure(anon, false), sc.measure(hwm, false), etcd)
		if sc.Members == 3 && len(sc.Samples) > 0 && len(sc.Samples[0]) == 3 {
			p("| ↳ the same, slowest of the 3 members per run (the fleet is up) | %s | %s | | | | |\n", sc.measure(ready, true), sc.measure(lbReady, true))
		}
	}
	p("\n")
	writeSummary(p, r)
	return b.String()
}

func mbytes(n int64) float64 { return float64(n) / 1e6 }
func pct(a, b int64) float64 { return 100 * float64(a-b) / float64(b) }

func (r *results) scenario(name string) scenarioResult {
	for _, sc := range r.Scenarios {
		if sc.Name == name {
			return sc
		}
	}
	return scenarioResult{}
}

func writeSummary(p func(string, ...any), r *results) {
	def := r.scenario(scenarios[0].name)
	link := r.scenario(scenarios[1].name)
	one := r.scenario(scenarios[2].name)
	three := r.scenario(scenarios[3].name)
	ext := r.scenario(scenarios[5].name)
	p("## What it costs, in short\n\n")
	p("- **Linking alone** (embedetcd build, local backend, no member running) — binary +%.1f MB; idle RSS %s → %s MB; package init %s → %s ms; serve ready %s → %s ms (medians; the serve times are noisy on a shared machine, the init times are not).\n",
		mbytes(r.Sizes["cutover-embedetcd"]-r.Sizes["cutover"]),
		num(def.measure(rss, false).p50), num(link.measure(rss, false).p50),
		num(distOf(r.Init["cutover"].InitMS).p50), num(distOf(r.Init["cutover-embedetcd"].InitMS).p50),
		num(def.measure(ready, false).p50), num(link.measure(ready, false).p50))
	p("- **Running a member** (embedded backend) — idle RSS %s MB with 1 member, %s MB per host with 3; ready in %s ms (1 member), %s ms for the slowest of 3 started together.\n",
		num(one.measure(rss, false).p50), num(three.measure(rss, false).p50), num(one.measure(ready, false).p50), num(three.measure(ready, true).p50))
	p("- **Against an external etcd** on the same host — cutover %s MB + etcd %s MB = %s MB, versus %s MB for one process with the member inside.\n\n",
		num(ext.measure(rss, false).p50), num(ext.measure(etcdRSS, false).p50),
		num(ext.measure(rss, false).p50+ext.measure(etcdRSS, false).p50), num(one.measure(rss, false).p50))

	restart := r.scenario(scenarios[4].name)
	p("## Decision: a second build\n\n")
	p("The embedded etcd server ships in a second build, `go build -tags embedetcd ./cmd/cutover` (`cutover version` then shows `tags embedetcd`), not in the default binary. ")
	p("The default binary refuses `cluster.backend: embedded` with exit code 2 and names that build; `TestServerNotLinkedIntoCutover` keeps the server out of it, and CI vets the tagged build while the end-to-end tests build and run it.\n\n")
	p("- Linking it costs every user, whether they use it or not: +%.0f%% binary size, +%d packages (the etcd server, raft, bbolt, grpc-gateway, OpenTelemetry, ...) to review and patch, ",
		pct(r.Sizes["cutover-embedetcd"], r.Sizes["cutover"]), r.Packages["cutover-embedetcd"]-r.Packages["cutover"])
	p("+%s MB of idle RSS (+%.0f%%; %s MB of it private, the rest the larger binary's pages) and about +%s ms of package init on every start. One-host users and fleets with an external etcd (the recommended production set-up) gain nothing from it.\n",
		num(link.measure(rss, false).p50-def.measure(rss, false).p50), 100*(link.measure(rss, false).p50/def.measure(rss, false).p50-1),
		num(link.measure(anon, false).p50-def.measure(anon, false).p50),
		num(distOf(r.Init["cutover-embedetcd"].InitMS).p50-distOf(r.Init["cutover"].InitMS).p50))
	p("- Running a member costs about %s MB of RSS per host on top of the default build's %s MB (%s MB of it private; %s MB after a restart, the difference being the member's data file mapped in, not private memory), and a first start waits for a quorum (%s ms median here for three members). ",
		num(three.measure(rss, false).p50-def.measure(rss, false).p50), num(def.measure(rss, false).p50),
		num(three.measure(anon, false).p50-def.measure(anon, false).p50), num(restart.measure(rss, false).p50), num(three.measure(ready, true).p50))
	p("That is no more than cutover and an external etcd process side by side (%s MB), so for the small fleets it is for (three VMs, nothing but SSH) the embedded build is the cheaper way to run a fleet: a choice made per fleet, by installing that build.\n\n",
		num(ext.measure(rss, false).p50+ext.measure(etcdRSS, false).p50))
}
