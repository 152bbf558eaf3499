// Command analysis measures canary analysis on simulated traffic: how many
// requests and how much time it needs to catch a regression, and how often
// it rolls back a canary identical to its baseline. It writes a Markdown
// report; bench/analysis/run.sh runs it and fills in the machine details.
package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cutover-dev/cutover/internal/analysis"
	"github.com/cutover-dev/cutover/internal/analysis/simulate"
)

// healthy is the baseline of every scenario: 1% errors, lognormal latency
// with a 20ms median and a 64ms p99.
var healthy = simulate.Version{ErrorRate: 0.01, Median: 20 * time.Millisecond, Sigma: 0.5}

// scenario is one row of the report.
type scenario struct {
	name   string
	runs   int
	expect string // "pass", "fail", "wait" or "either"
	sim    simulate.Scenario
}

// row is the measured outcome of one scenario.
type row struct {
	scenario
	verdicts        map[analysis.Verdict]int
	total, canary   []int64
	elapsed         []time.Duration
	judgements      int
	judgeWall       time.Duration
	sampleFailCause string
}

func scenarios(aaRuns, runs int, rate, weight float64, interval time.Duration) []scenario {
	with := func(f func(*simulate.Version)) simulate.Version { v := healthy; f(&v); return v }
	base := simulate.Scenario{Rate: rate, Weight: weight, Baseline: healthy, Interval: interval, MaxDuration: time.Hour}
	mk := func(name string, n int, expect string, canary simulate.Version, edit ...func(*simulate.Scenario)) scenario {
		s := base
		s.Canary = canary
		for _, e := range edit {
			e(&s)
		}
		return scenario{name: name, runs: n, expect: expect, sim: s}
	}
	return []scenario{
		mk("A/A: identical versions", aaRuns, "pass", healthy),
		mk("error rate 1% → 1.5% (within the tolerance)", runs, "pass", with(func(v *simulate.Version) { v.ErrorRate = 0.015 })),
		mk("error rate 1% → 2% (exactly the tolerance)", runs, "either", with(func(v *simulate.Version) { v.ErrorRate = 0.02 })),
		mk("same, judged every 10s", runs, "either", with(func(v *simulate.Version) { v.ErrorRate = 0.02 }),
			func(s *simulate.Scenario) { s.Interval = 10 * time.Second }),
		mk("error rate 1% → 3% (+2 points)", runs, "fail", with(func(v *simulate.Version) { v.ErrorRate = 0.03 })),
		mk("error rate 0% → 5%", runs, "fail", with(func(v *simulate.Version) { v.ErrorRate = 0.05 }),
			func(s *simulate.Scenario) { s.Baseline.ErrorRate = 0 }),
		mk("latency +200ms", runs, "fail", with(func(v *simulate.Version) { v.Shift = 200 * time.Millisecond })),
		mk("latency ×1.5", runs, "fail", with(func(v *simulate.Version) { v.Median = 30 * time.Millisecond })),
		mk("latency +2ms", runs, "pass", with(func(v *simulate.Version) { v.Shift = 2 * time.Millisecond })),
		mk("A/A at 1 req/s for 10 minutes", runs, "wait", healthy, func(s *simulate.Scenario) {
			s.Rate, s.MaxDuration = 1, 10*time.Minute
		}),
	}
}

func main() {
	var (
		out      = flag.String("out", "bench/ANALYSIS.md", "report path (- for stdout)")
		aaRuns   = flag.Int("aa-runs", 1000, "A/A simulations")
		runs     = flag.Int("runs", 200, "simulations per other scenario")
		rate     = flag.Float64("rate", 50, "total requests per second")
		weight   = flag.Float64("weight", 0.1, "canary share of requests")
		interval = flag.Duration("interval", time.Second, "how often the analysis runs")
		machine  = flag.String("machine", "", "machine description for the report")
		commit   = flag.String("commit", "", "commit measured")
	)
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	start := time.Now()
	var rows []row
	for _, sc := range scenarios(*aaRuns, *runs, *rate, *weight, *interval) {
		r, err := measure(sc)
		if err != nil {
			log.Error("scenario failed", "scenario", sc.name, "err", err)
			os.Exit(1)
		}
		log.Info("scenario measured", "scenario", sc.name, "runs", sc.runs, "verdicts", fmt.Sprint(r.verdicts))
		rows = append(rows, r)
	}
	w := io.Writer(os.Stdout)
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			log.Error("cannot write report", "path", *out, "err", err)
			os.Exit(1)
		}
		defer f.Close()
		w = f
	}
	report(w, rows, params{rate: *rate, weight: *weight, interval: *interval, machine: *machine, commit: *commit, took: time.Since(start)})
}

// measure replays sc.runs seeds of a scenario on all CPUs.
func measure(sc scenario) (row, error) {
	r := row{scenario: sc, verdicts: map[analysis.Verdict]int{}}
	outcomes := make([]simulate.Outcome, sc.runs)
	errs := make([]error, sc.runs)
	walls := make([]time.Duration, sc.runs)
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				s := sc.sim
				s.Seed = uint64(i)
				t0 := time.Now()
				outcomes[i], errs[i] = simulate.Run(s)
				walls[i] = time.Since(t0)
			}
		})
	}
	for i := range sc.runs {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, o := range outcomes {
		if errs[i] != nil {
			return r, errs[i]
		}
		v := o.Result.Verdict
		r.verdicts[v]++
		if v == analysis.Fail && sc.expect != "fail" && sc.expect != "either" && r.sampleFailCause == "" {
			r.sampleFailCause = o.Result.Reason
		}
		r.total = append(r.total, o.Result.BaselineRequests+o.Result.CanaryRequests)
		r.canary = append(r.canary, o.Result.CanaryRequests)
		r.elapsed = append(r.elapsed, o.Elapsed)
		r.judgements += o.Judgements
		r.judgeWall += walls[i]
	}
	return r, nil
}

// quantile returns the nearest-rank q-quantile of xs.
func quantile[T int64 | time.Duration](xs []T, q float64) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	i := max(int(q*float64(len(s))+0.999999)-1, 0)
	return s[min(i, len(s)-1)]
}

type params struct {
	rate, weight float64
	interval     time.Duration
	machine      string
	commit       string
	took         time.Duration
}

func report(w io.Writer, rows []row, p params) {
	cfg := analysis.Config{}.WithDefaults()
	fmt.Fprintf(w, "# Canary analysis benchmark\n\n")
	fmt.Fprintf(w, "Generated by `bench/analysis/run.sh` on %s.\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "- Machine: %s\n- Commit: %s\n- Wall time: %s\n\n", orUnknown(p.machine), orUnknown(p.commit), p.took.Round(time.Second))
	fmt.Fprintf(w, "Simulated traffic (`internal/analysis/simulate`): %g req/s in total, %g%% to the canary, "+
		"analysis on everything since the step began every %s, until a verdict other than wait (at most 1 hour). "+
		"Baseline: 1%% errors, lognormal latency with median 20ms and p99 64ms (σ = 0.5). "+
		"Default settings: confidence %g, at least %d requests per version, error rate may rise by %g percentage point(s), "+
		"p50 and p99 by %g%% or %s, whichever is more.\n\n",
		p.rate, p.weight*100, p.interval, cfg.Confidence, cfg.MinRequests, cfg.MaxErrorRateIncrease, cfg.MaxLatencyIncrease, cfg.MinLatencyIncrease)
	fmt.Fprintf(w, "| canary | runs | expected | fail | pass | wait | requests until verdict, median / p90 | canary requests, median / p90 | time, median / p90 |\n")
	fmt.Fprintf(w, "|---|---:|---|---:|---:|---:|---:|---:|---:|\n")
	var judgements int
	var wall time.Duration
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %d / %d | %d / %d | %s / %s |\n",
			r.name, r.runs, r.expect, share(r.verdicts[analysis.Fail], r.runs), share(r.verdicts[analysis.Pass], r.runs), share(r.verdicts[analysis.Wait], r.runs),
			quantile(r.total, 0.5), quantile(r.total, 0.9), quantile(r.canary, 0.5), quantile(r.canary, 0.9),
			dur(quantile(r.elapsed, 0.5)), dur(quantile(r.elapsed, 0.9)))
		judgements += r.judgements
		wall += r.judgeWall
	}
	fmt.Fprintln(w)
	aa := rows[0]
	fmt.Fprintf(w, "**False rollbacks:** %d of %d A/A simulations (%s); the bound is 1 − confidence = %.3g%%.\n\n",
		aa.verdicts[analysis.Fail], aa.runs, share(aa.verdicts[analysis.Fail], aa.runs), 100*(1-cfg.Confidence))
	for _, r := range rows {
		if r.sampleFailCause != "" {
			fmt.Fprintf(w, "- Unexpected fail in %q, for example: %s\n", r.name, r.sampleFailCause)
		}
	}
	fmt.Fprintf(w, "**Cost:** %d judgements (one simulated second of traffic plus one `analysis.Judge` each) took %s summed over workers, %s per judgement on average.\n\n",
		judgements, wall.Round(time.Millisecond), (wall / time.Duration(max(judgements, 1))).Round(time.Microsecond))
	fmt.Fprintf(w, "%s\n", strings.TrimSpace(notes))
}

const notes = `
How to read it:

- "requests until verdict" counts both versions; "time" is simulated time at the given rate, so at another
  rate scale it by 50 / rate. A +2-point error-rate regression over a 1-point tolerance is caught after a few
  hundred to a few thousand canary requests; a 200ms slowdown after the minimum of 100.
- A healthy canary needs more data to pass than a broken one needs to fail: passing requires proving the
  canary's p99 is within 20% of the baseline's, which takes about 2,000 canary requests at 99% confidence.
  Lower ` + "`confidence`" + ` or raise ` + "`max_latency_increase`" + ` to pass sooner.
- A canary exactly on the error-rate tolerance may go either way, and usually waits. Each judgement is
  wrong with probability at most 1%, but judging the growing sample again every second for an hour gives
  both wrong-looking verdicts several chances; judging less often (every 10s) reduces that. A canary as good
  as its baseline is far from the tolerance and is not affected (false rollbacks above).
- At 1 req/s nothing is decided in 10 minutes: too little data is wait, never pass or fail.
- For comparison: Flagger fails a canary that has no data; Argo Rollouts judges the canary's metrics against
  fixed thresholds without a baseline; Kayenta needs at least 50 data points per metric and runs for hours.
`

func share(n, of int) string {
	if of == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(of))
}

func dur(d time.Duration) string { return d.Round(time.Second).String() }

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
