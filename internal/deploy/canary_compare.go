package deploy

import (
	"sync"
	"time"

	"github.com/cutover-dev/cutover/internal/analysis"
	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/metrics"
)

// canaryMark is where a canary's window starts: both versions' metrics
// totals at that moment. The window's traffic is the totals now minus the
// mark, exact however long the window lasts (paused or not) and whatever
// the metrics' retention.
type canaryMark struct {
	baseline, canary metrics.Stats
}

// markCanary returns the mark of a window starting now.
func (s *service) markCanary(baseline, candidate string) canaryMark {
	m := s.c.opts.Metrics
	return canaryMark{baseline: m.Totals(s.name, baseline), canary: m.Totals(s.name, candidate)}
}

// since returns both versions' traffic since the mark.
func (m canaryMark) since(s *service, baseline, candidate string) analysis.Window {
	r := s.c.opts.Metrics
	return analysis.Window{
		Baseline: r.Totals(s.name, baseline).Sub(m.baseline),
		Canary:   r.Totals(s.name, candidate).Sub(m.canary),
	}
}

// runningCanaries holds the latest judgement of each service's running
// canary (*service → Comparison), shown by status.
var runningCanaries sync.Map

// judgeCanary judges candidate against baseline at step: whole is the
// traffic since the canary began, current that of the step. Summary is
// keyed by version: requests, error_rate (a fraction), p50_ms and p99_ms,
// since the canary began.
func (s *service) judgeCanary(sc *config.Service, baseline, candidate string, step analysis.Step, whole, current canaryMark) Comparison {
	w := whole.since(s, baseline, candidate)
	var cur analysis.Window
	if step.Index > 1 {
		cur = current.since(s, baseline, candidate)
	}
	res := analysis.JudgeStep(analysis.ConfigFrom(sc.Canary), step, w, cur)
	cmp := comparison(baseline, candidate, w, res)
	runningCanaries.Store(s, cmp)
	return cmp
}

// comparison is the display form of a judgement.
func comparison(baseline, candidate string, w analysis.Window, res analysis.Result) Comparison {
	return Comparison{
		Baseline: w.Baseline,
		Canary:   w.Canary,
		Verdict:  res.Verdict.String(),
		Reason:   res.Reason,
		Summary: map[string]map[string]float64{
			baseline:  StatsSummary(w.Baseline),
			candidate: StatsSummary(w.Canary),
		},
	}
}

// compare returns the latest judgement of the running canary of candidate,
// or, when there is none, judges candidate against baseline from since
// until now as a last step.
func (s *service) compare(sc *config.Service, baseline, candidate string, since time.Time) Comparison {
	if v, ok := runningCanaries.Load(s); ok {
		if cmp := v.(Comparison); cmp.Canary.Version == candidate && cmp.Baseline.Version == baseline {
			return cmp
		}
	}
	w := analysis.Window{
		Baseline: s.c.opts.Metrics.SnapshotSince(s.name, baseline, since),
		Canary:   s.c.opts.Metrics.SnapshotSince(s.name, candidate, since),
	}
	return comparison(baseline, candidate, w, analysis.Judge(analysis.ConfigFrom(sc.Canary), w.Baseline, w.Canary))
}

// StatsSummary is the display view of one version's numbers.
func StatsSummary(st metrics.Stats) map[string]float64 {
	return map[string]float64{
		"requests":   float64(st.Requests),
		"error_rate": st.ErrorRate(),
		"p50_ms":     durationMillis(st.Latency.Quantile(0.5)),
		"p99_ms":     durationMillis(st.Latency.Quantile(0.99)),
	}
}

func durationMillis(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}
