package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// meta is everything about a run of the harness except the numbers.
type meta struct {
	Start          time.Time `json:"start"`
	End            time.Time `json:"end"`
	Machine        machine   `json:"machine"`
	Commit         string    `json:"commit"`
	LoadStart      string    `json:"loadavg_start"`
	LoadEnd        string    `json:"loadavg_end"`
	Tools          []string  `json:"tools"`
	Rounds         int       `json:"rounds"`
	Duration       string    `json:"duration"`
	Warmup         string    `json:"warmup"`
	Conns          []int     `json:"conns"`
	Workloads      []string  `json:"workloads,omitempty"`
	SwitchDuration string    `json:"switch_duration"`
	SwitchEvery    string    `json:"switch_every"`
	ProxyCPU       int       `json:"proxy_cpu"`
	LoadCPU        int       `json:"load_cpu"`
	Command        string    `json:"command"`
	Notes          []string  `json:"notes,omitempty"`
}

// results is one complete run of the harness.
type results struct {
	Meta    meta              `json:"meta"`
	Order   []string          `json:"order"`
	Labels  map[string]string `json:"labels"`
	Skipped map[string]string `json:"skipped"`
	Speed   []speedRun        `json:"speed"`
	Switch  []switchRun       `json:"switch"`
	// GoBench holds the result lines of the proxy's Go benchmark
	// (BenchmarkProxy with -benchmem) run beside the speed runs.
	GoBench []string `json:"go_bench,omitempty"`
	// Analysis is hand-written Markdown (bench/PROFILE.md) added to the
	// report as it is; it is not part of the raw results.
	Analysis string `json:"-"`
}

// median returns the median of xs (mean of the middle two for an even count)
// and false when xs is empty.
func median(xs []float64) (float64, bool) {
	if len(xs) == 0 {
		return 0, false
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2], true
	}
	return (s[n/2-1] + s[n/2]) / 2, true
}

// metric extracts one number from a speed run.
type metric func(speedRun) float64

var (
	metricRPS = func(r speedRun) float64 { return r.Wrk.RPS() }
	metricP50 = func(r speedRun) float64 { return float64(r.Wrk.P50US) / 1000 }
	metricP99 = func(r speedRun) float64 { return float64(r.Wrk.P99US) / 1000 }
	metricRSS = func(r speedRun) float64 { return float64(r.RSSKB) / 1024 }
	metricHWM = func(r speedRun) float64 { return float64(r.HWMKB) / 1024 }
)

// stat is a metric's median over rounds and the median over rounds of its
// ratio to nginx in the same round.
type stat struct {
	Value, Ratio       float64
	HasValue, HasRatio bool
}

// summarize computes the stat of m for subject at conns over all rounds whose
// run succeeded. A ratio exists only for rounds where nginx succeeded too and
// its value is not zero.
func summarize(runs []speedRun, subject string, wl string, m metric) stat {
	byRound := map[int]speedRun{}
	nginx := map[int]speedRun{}
	for _, r := range runs {
		if runKey(r) != wl || r.Err != "" {
			continue
		}
		if r.Subject == subject {
			byRound[r.Round] = r
		}
		if r.Subject == keyNginx {
			nginx[r.Round] = r
		}
	}
	var vals, ratios []float64
	for round, r := range byRound {
		v := m(r)
		vals = append(vals, v)
		if n, ok := nginx[round]; ok && m(n) != 0 {
			ratios = append(ratios, v/m(n))
		}
	}
	var s stat
	s.Value, s.HasValue = median(vals)
	s.Ratio, s.HasRatio = median(ratios)
	return s
}

func (s stat) cells(format string) (string, string) {
	if !s.HasValue {
		return "—", "—"
	}
	v := fmt.Sprintf(format, s.Value)
	if !s.HasRatio {
		return v, "—"
	}
	return v, fmt.Sprintf("%.2f", s.Ratio)
}

// busyThreshold is the 1-minute load average per core above which the
// machine is reported as busy.
const busyThreshold = 0.25

// writeReport renders res as Markdown.
func writeReport(w io.Writer, res *results) error {
	var b strings.Builder
	m := res.Meta
	fmt.Fprintf(&b, "# Data plane speed: results\n\n")
	fmt.Fprintf(&b, "Written by `bench/run.sh` on %s (the run took %s). Command:\n\n```\n%s\n```\n\n",
		m.Start.UTC().Format("2006-01-02 15:04 MST"), m.End.Sub(m.Start).Round(time.Second), m.Command)
	if busy(m.LoadStart, m.Machine.NProc) || busy(m.LoadEnd, m.Machine.NProc) {
		fmt.Fprintf(&b, "> **The machine was busy** (load average %s at start, %s at end, on %d cores): other "+
			"processes competed for the same cores, so absolute numbers are noisy and lower than on an idle "+
			"machine. Ratios within a round are more robust than absolute values, but still noisy.\n\n",
			m.LoadStart, m.LoadEnd, m.Machine.NProc)
	}
	for _, n := range m.Notes {
		fmt.Fprintf(&b, "> %s\n\n", n)
	}
	fmt.Fprintf(&b, "| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| machine | %d × %s; kernel %s; %s |\n", m.Machine.NProc, m.Machine.CPU, m.Machine.Kernel, m.Machine.OS)
	fmt.Fprintf(&b, "| commit | %s |\n", m.Commit)
	fmt.Fprintf(&b, "| load average (1, 5, 15 min) | start %s; end %s |\n", m.LoadStart, m.LoadEnd)
	fmt.Fprintf(&b, "| tools | %s |\n", strings.Join(m.Tools, "; "))
	wls := m.Workloads
	if len(wls) == 0 {
		for _, c := range m.Conns {
			wls = append(wls, "c"+strconv.Itoa(c))
		}
	}
	fmt.Fprintf(&b, "| speed runs | %d interleaved round(s); each run %s after a %s unmeasured warm-up; `wrk -t1 --latency`; workloads %s |\n",
		m.Rounds, m.Duration, m.Warmup, strings.Join(wls, ", "))
	fmt.Fprintf(&b, "| switch runs | switch every %s for %s per run |\n", m.SwitchEvery, m.SwitchDuration)
	fmt.Fprintf(&b, "\n%s\n", method(m))

	for _, c := range wls {
		label := c
		if w, ok := findWorkload(c); ok {
			label = w.Label
		}
		fmt.Fprintf(&b, "## Throughput, latency and memory: %s\n\n", label)
		b.WriteString("| proxy | req/s | ×nginx | p50 ms | ×nginx | p99 ms | ×nginx | RSS MB | ×nginx | VmHWM MB | failed | rounds |\n")
		b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
		for _, key := range res.Order {
			if _, skipped := res.Skipped[key]; skipped {
				continue
			}
			rps, rpsR := summarize(res.Speed, key, c, metricRPS).cells("%.0f")
			p50, p50R := summarize(res.Speed, key, c, metricP50).cells("%.2f")
			p99, p99R := summarize(res.Speed, key, c, metricP99).cells("%.2f")
			rss, rssR, hwm := "—", "—", "—"
			if key != keyDirect {
				rss, rssR = summarize(res.Speed, key, c, metricRSS).cells("%.1f")
				hwm, _ = summarize(res.Speed, key, c, metricHWM).cells("%.1f")
			}
			failed, rounds := failedAndRounds(res.Speed, key, c)
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
				res.Labels[key], rps, rpsR, p50, p50R, p99, p99R, rss, rssR, hwm, failed, rounds)
		}
		b.WriteString("\n")
	}

	b.WriteString("## Failed requests while switching versions\n\n")
	if len(res.Switch) == 0 {
		b.WriteString("No switch runs.\n\n")
	} else {
		fmt.Fprintf(&b, "Two backends (v1, v2) behind the proxy; the proxy is switched between them every %s while load runs for %s.\n\n",
			m.SwitchEvery, m.SwitchDuration)
		b.WriteString("| setup | client | conns | requests | failed | failed % | switches done (errors) | failed per switch | mean switch ms | responses per backend | load | failure detail |\n")
		b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|---|--:|---|\n")
		for _, r := range res.Switch {
			b.WriteString(switchRow(res, r))
		}
		b.WriteString("\n")
		for _, r := range res.Switch {
			if r.SwitchErr != "" {
				fmt.Fprintf(&b, "- last switch error of %s (%s): `%s`\n", res.Labels[r.Subject], r.Tool, oneLine(r.SwitchErr, 300))
			}
		}
		b.WriteString("\n")
	}

	if len(res.Skipped) > 0 {
		b.WriteString("## Not measured\n\n")
		for _, key := range res.Order {
			if why, ok := res.Skipped[key]; ok {
				fmt.Fprintf(&b, "- **%s**: %s\n", labelOr(res, key), oneLine(why, 600))
			}
		}
		b.WriteString("\n")
	}

	if len(res.GoBench) > 0 {
		b.WriteString("## Allocations per proxied request\n\n")
		b.WriteString("`go test -run '^$' -bench 'BenchmarkProxy|BenchmarkServerLoop|BenchmarkParseRequestHead' -benchmem ./internal/proxy/`, run by bench/run.sh before the speed runs " +
			"(\"handler\": ServeHTTP called directly, its in-process upstream's allocations included; \"sockets\": " +
			"through the proxy's listener, the in-process client's and upstream's allocations included; BenchmarkServerLoop: " +
			"the public listener alone with a fixed handler, h1 the HTTP/1.1 loop and nethttp net/http's server; " +
			"BenchmarkParseRequestHead: parsing one browser request head):\n\n```\n")
		for _, l := range res.GoBench {
			b.WriteString(l + "\n")
		}
		b.WriteString("```\n\n")
	}
	if a := strings.TrimSpace(res.Analysis); a != "" {
		b.WriteString(a + "\n\n")
	}

	b.WriteString("## Every speed run\n\n\"load\" is the 1-minute load average right after the run.\n\n")
	b.WriteString("| round | workload | proxy | req/s | p50 ms | p99 ms | RSS MB | failed | load | error |\n|--:|---|---|--:|--:|--:|--:|--:|--:|---|\n")
	for _, r := range res.Speed {
		rss := fmt.Sprintf("%.1f", metricRSS(r))
		if r.Subject == keyDirect {
			rss = "—"
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %.0f | %.2f | %.2f | %s | %d | %s | %s |\n", r.Round, runKey(r), res.Labels[r.Subject],
			r.Wrk.RPS(), metricP50(r), metricP99(r), rss, r.Wrk.Failed(), r.Load, oneLine(r.Err, 120))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func method(m meta) string {
	return fmt.Sprintf(`How it was measured:
- One small Go backend (bench/backend, GOMAXPROCS=1, 100-byte responses) on loopback; every proxy forwards to the same backend.
- Proxies and backend are pinned to CPU %d with taskset; wrk, bench/loadcheck, the harness and the switch commands it runs (`+"`nginx -s reload`, `cutover deploy`"+`) run on CPU %d. Each proxy gets one worker: nginx `+"`worker_processes 1`"+` with `+"`keepalive 1024`"+` upstream connections and `+"`keepalive_requests 1000000`"+`; HAProxy `+"`nbthread 1`"+` with `+"`http-reuse always`"+`; Caddy and cutover with GOMAXPROCS=1 and a 1024-connection idle pool. Configs: bench/*.tmpl. All proxies and wrk come from the Debian archive (Debian 12 packages Caddy too, as caddy 2.6.2); a proxy that is not installed is listed under "Not measured".
- Runs are interleaved (every proxy once per round, in the same order) so drift in machine load hits all of them alike. Each number is the median over rounds; each "×nginx" is the median over rounds of the ratio to nginx in the same round (req/s: higher is better; latency and memory: lower is better).
- p50/p99 are wrk's latency percentiles. RSS is the peak of VmRSS summed over the proxy's processes (nginx: master + worker), sampled every 200 ms from /proc during the run; VmHWM is the processes' peak RSS since they started.
- "failed" counts wrk's responses with status > 399 plus socket errors (connect, read, write, timeout).
- Switch runs: two backends (v1, v2); the harness switches the proxy to the other one every interval, waiting for each switch to finish (a slow switch delays the next, so "switches done" can be lower than duration/interval). nginx: rewrite the upstream port in nginx.conf and run `+"`nginx -s reload`"+` (what port-switch deploy scripts do). cutover (product): `+"`cutover deploy web vN --admin unix://…`"+`, which health-gates, switches, drains and retires the old version (standby 0s). cutover data plane (library): bench/proxyonly calls `+"`UpdateService`"+` on a signal.
- Switch runs count failures with wrk (same definition) and with bench/loadcheck: POST requests with a body on a transport that cannot retry, half the workers on keep-alive connections and half opening a new connection per request; a request fails on a transport error, a non-2xx status or a body that does not name a backend.
`, m.ProxyCPU, m.LoadCPU)
}

func switchRow(res *results, r switchRun) string {
	if r.Err != "" {
		return fmt.Sprintf("| %s | %s | %d | — | — | — | %d (%d) | — | %.1f | — | %s | error: %s |\n",
			res.Labels[r.Subject], r.Tool, r.Conns, r.Switches, r.SwitchErrors, r.SwitchMeanMS, r.Load, oneLine(r.Err, 200))
	}
	pct := 0.0
	if r.Requests > 0 {
		pct = 100 * float64(r.Failed) / float64(r.Requests)
	}
	var backends []string
	for _, k := range slices.Sorted(maps.Keys(r.Backends)) {
		backends = append(backends, fmt.Sprintf("%s %d", k, r.Backends[k]))
	}
	be := strings.Join(backends, ", ")
	if be == "" {
		be = "—"
	}
	perSwitch := "—"
	if r.Switches > 0 {
		perSwitch = fmt.Sprintf("%.1f", float64(r.Failed)/float64(r.Switches))
	}
	return fmt.Sprintf("| %s | %s | %d | %d | %d | %.3f | %d (%d) | %s | %.1f | %s | %s | %s |\n",
		res.Labels[r.Subject], r.Tool, r.Conns, r.Requests, r.Failed, pct, r.Switches, r.SwitchErrors,
		perSwitch, r.SwitchMeanMS, be, r.Load, r.Detail)
}

func failedAndRounds(runs []speedRun, key string, wl string) (string, string) {
	var failed int64
	ok, all := 0, 0
	for _, r := range runs {
		if r.Subject != key || runKey(r) != wl {
			continue
		}
		all++
		if r.Err == "" {
			ok++
			failed += r.Wrk.Failed()
		}
	}
	rounds := strconv.Itoa(ok)
	if ok != all {
		rounds = fmt.Sprintf("%d of %d", ok, all)
	}
	return strconv.FormatInt(failed, 10), rounds
}

func busy(load string, nproc int) bool {
	f := strings.Fields(load)
	if len(f) == 0 || nproc <= 0 {
		return false
	}
	v, err := strconv.ParseFloat(f[0], 64)
	return err == nil && v/float64(nproc) > busyThreshold
}

func labelOr(res *results, key string) string {
	if l, ok := res.Labels[key]; ok && l != "" {
		return l
	}
	return key
}

func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.ReplaceAll(s, "|", "\\|")
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}
