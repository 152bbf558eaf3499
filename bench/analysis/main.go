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
	"strconv"
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

func scenarios(aaRuns, runs int, rate float64, steps []float64, interval time.Duration) []scenario {
	with := func(f func(*simulate.Version)) simulate.Version { v := healthy; f(&v); return v }
	base := simulate.Scenario{Rate: rate, Steps: steps, Baseline: healthy, Interval: interval}
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
		mk("error rate 1% → 3% (+2 points)", aaRuns, "fail", with(func(v *simulate.Version) { v.ErrorRate = 0.03 })),
		mk("error rate 1% → 1.5% (within the tolerance)", runs, "pass", with(func(v *simulate.Version) { v.ErrorRate = 0.015 })),
		mk("error rate 1% → 2% (exactly the tolerance)", runs, "either", with(func(v *simulate.Version) { v.ErrorRate = 0.02 })),
		mk("error rate 0% → 5%", runs, "fail", with(func(v *simulate.Version) { v.ErrorRate = 0.05 }),
			func(s *simulate.Scenario) { s.Baseline.ErrorRate = 0 }),
		mk("error rate 1% → 20%", runs, "fail", with(func(v *simulate.Version) { v.ErrorRate = 0.2 })),
		mk("latency +30ms", runs, "fail", with(func(v *simulate.Version) { v.Shift = 30 * time.Millisecond })),
		mk("latency +200ms", runs, "fail", with(func(v *simulate.Version) { v.Shift = 200 * time.Millisecond })),
		mk("latency ×1.5", runs, "fail", with(func(v *simulate.Version) { v.Median = 30 * time.Millisecond })),
		mk("latency +2ms", runs, "pass", with(func(v *simulate.Version) { v.Shift = 2 * time.Millisecond })),
		mk("+2 points at 2 req/s", runs, "no promotion", with(func(v *simulate.Version) { v.ErrorRate = 0.03 }),
			func(s *simulate.Scenario) { s.Rate = 2 }),
	}
}

// ocScenarios are the operating characteristics: canaries whose error rate
// exceeds the baseline's 1% by 0 to 3 points.
func ocScenarios(runs int, rate float64, steps []float64, interval time.Duration) []scenario {
	var out []scenario
	for _, d := range []float64{0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75, 2, 2.5, 3} {
		c := healthy
		c.ErrorRate = 0.01 + d/100
		out = append(out, scenario{name: fmt.Sprintf("+%g points", d), runs: runs, expect: "either",
			sim: simulate.Scenario{Rate: rate, Steps: steps, Baseline: healthy, Canary: c, Interval: interval}})
	}
	return out
}

func main() {
	var (
		out      = flag.String("out", "bench/ANALYSIS.md", "report path (- for stdout)")
		aaRuns   = flag.Int("aa-runs", 1000, "A/A and +2-point simulations")
		runs     = flag.Int("runs", 200, "simulations per other scenario")
		ocRuns   = flag.Int("oc-runs", 200, "simulations per operating-characteristic point")
		rate     = flag.Float64("rate", 20, "total requests per second")
		plans    = flag.String("steps", "10,50,100;5,25,50,100", "canary step plans, ';' between plans")
		interval = flag.Duration("interval", time.Second, "how often the analysis runs")
		machine  = flag.String("machine", "", "machine description for the report")
		commit   = flag.String("commit", "", "commit measured")
	)
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	start := time.Now()
	var tables []table
	for _, plan := range strings.Split(*plans, ";") {
		steps, err := parseSteps(plan)
		if err != nil {
			log.Error("bad -steps", "plan", plan, "err", err)
			os.Exit(2)
		}
		t := table{plan: plan}
		for _, set := range []*[]row{&t.rows, &t.oc} {
			scs := scenarios(*aaRuns, *runs, *rate, steps, *interval)
			if set == &t.oc {
				scs = ocScenarios(*ocRuns, *rate, steps, *interval)
			}
			for _, sc := range scs {
				r, err := measure(sc)
				if err != nil {
					log.Error("scenario failed", "scenario", sc.name, "err", err)
					os.Exit(1)
				}
				log.Info("scenario measured", "plan", plan, "scenario", sc.name, "runs", sc.runs, "verdicts", fmt.Sprint(r.verdicts))
				*set = append(*set, r)
			}
		}
		tables = append(tables, t)
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
	report(w, tables, params{rate: *rate, interval: *interval, machine: *machine, commit: *commit, took: time.Since(start)})
}

// table is the measurements of one step plan.
type table struct {
	plan     string
	rows, oc []row
}

// parseSteps reads "10,50,100" into the judged steps, those below 100.
func parseSteps(plan string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(plan, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || v <= 0 || v > 100 {
			return nil, fmt.Errorf("step %q: give percentages above 0 and at most 100, e.g. 10,50,100", f)
		}
		if v < 100 {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no step below 100 in %q", plan)
	}
	return out, nil
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
		if v == analysis.Fail && sc.expect != "fail" && sc.expect != "either" && sc.expect != "no promotion" && r.sampleFailCause == "" {
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
	rate     float64
	interval time.Duration
	machine  string
	commit   string
	took     time.Duration
}

func report(w io.Writer, tables []table, p params) {
	cfg := analysis.Config{}.WithDefaults()
	fmt.Fprintf(w, "# Canary analysis benchmark\n\n")
	fmt.Fprintf(w, "Generated by `bench/analysis/run.sh` on %s.\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "- Machine: %s\n- Commit: %s\n- Wall time: %s\n\n", orUnknown(p.machine), orUnknown(p.commit), p.took.Round(time.Second))
	fmt.Fprintf(w, "Simulated traffic (`internal/analysis/simulate`): %g req/s in total, the canary run through its steps as the "+
		"controller runs them (`step_duration` 30s, `max_step_duration` 10m: a canary still undecided then counts as wait), judged every %s "+
		"with `analysis.JudgeStep` on everything since the canary began and on the step's own window. "+
		"Baseline: 1%% errors, lognormal latency with median 20ms and p99 64ms (σ = 0.5). "+
		"Default settings: confidence %g, at least %d requests per version, error rate may rise by %g percentage point(s), "+
		"p50 and p99 by %g%% or %s, whichever is more. Time is from the first step to the verdict.\n\n",
		p.rate, p.interval, cfg.Confidence, cfg.MinRequests, cfg.MaxErrorRateIncrease, cfg.MaxLatencyIncrease, cfg.MinLatencyIncrease)
	var judgements int
	var wall time.Duration
	for _, t := range tables {
		fmt.Fprintf(w, "## steps: [%s]\n\n", t.plan)
		fmt.Fprintf(w, "| canary | runs | expected | rolled back | promoted | wait | canary requests, median / p90 | time, median / p90 |\n")
		fmt.Fprintf(w, "|---|---:|---|---:|---:|---:|---:|---:|\n")
		for _, r := range t.rows {
			fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %d / %d | %s / %s |\n",
				r.name, r.runs, r.expect, share(r.verdicts[analysis.Fail], r.runs), share(r.verdicts[analysis.Pass], r.runs), share(r.verdicts[analysis.Wait], r.runs),
				quantile(r.canary, 0.5), quantile(r.canary, 0.9),
				dur(quantile(r.elapsed, 0.5)), dur(quantile(r.elapsed, 0.9)))
			judgements += r.judgements
			wall += r.judgeWall
		}
		fmt.Fprintln(w)
		aa, bad := t.rows[0], t.rows[1]
		fmt.Fprintf(w, "**Wrong decisions:** A/A rolled back in %d of %d (%s), +2 points promoted in %d of %d (%s); "+
			"the error rate's bounds are α/2 = %.2g%% and α = %.3g%%.\n\n",
			aa.verdicts[analysis.Fail], aa.runs, share(aa.verdicts[analysis.Fail], aa.runs),
			bad.verdicts[analysis.Pass], bad.runs, share(bad.verdicts[analysis.Pass], bad.runs), 50*(1-cfg.Confidence), 100*(1-cfg.Confidence))
		for _, r := range t.rows {
			if r.sampleFailCause != "" {
				fmt.Fprintf(w, "- Unexpected fail in %q, for example: %s\n", r.name, r.sampleFailCause)
			}
		}
		fmt.Fprintf(w, "\nOperating characteristics (baseline 1%% errors, canary 1%% + the difference, %d runs each):\n\n", t.oc[0].runs)
		fmt.Fprintf(w, "| difference | rolled back | promoted | wait | time to a decision, median / p90 |\n|---|---:|---:|---:|---:|\n")
		for _, r := range t.oc {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s / %s |\n", r.name,
				share(r.verdicts[analysis.Fail], r.runs), share(r.verdicts[analysis.Pass], r.runs), share(r.verdicts[analysis.Wait], r.runs),
				dur(quantile(r.elapsed, 0.5)), dur(quantile(r.elapsed, 0.9)))
			judgements += r.judgements
			wall += r.judgeWall
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "**Cost:** %d judgements (one simulated second of traffic plus one `analysis.JudgeStep` each) took %s summed over workers, %s per judgement on average.\n\n",
		judgements, wall.Round(time.Millisecond), (wall / time.Duration(max(judgements, 1))).Round(time.Microsecond))
	fmt.Fprintf(w, "%s\n", strings.TrimSpace(notes))
}

const notes = `
How to read it:

- The error rate is judged by a sequential probability ratio test of "as good as the baseline" against
  "2 points worse" (twice the 1-point tolerance), valid however often it is looked at: no "repeated looks"
  inflation however long a canary runs. A canary exactly on the tolerance goes either way, about evenly.
- Earlier steps pass on little evidence and the last step (the promotion) on the full 99%: the test needs about
  the same number of canary requests whatever the weight, so moving on sooner brings the decision forward without
  exposing more requests to a moderate regression; a gross one (1% → 20%) fails at the first step.
- A healthy canary's time is mostly the p99 latency check: proving p99 within 20% takes about 2,000 canary
  requests. Lower ` + "`confidence`" + ` or raise ` + "`max_latency_increase`" + ` to pass sooner.
- At 2 req/s the minimum of 100 requests per version takes most of a step at 10%: too little data is wait, never
  pass or fail.
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
