package deploy

import (
	"time"

	"github.com/cutover-dev/cutover/internal/analysis"
	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/metrics"
)

// compare judges candidate against baseline over the same window, from
// since until now, with the proxy's own per-version metrics. Summary is
// keyed by version: requests, error_rate (a fraction), p50_ms and p99_ms.
func (s *service) compare(sc *config.Service, baseline, candidate string, since time.Time) Comparison {
	base := s.c.opts.Metrics.SnapshotSince(s.name, baseline, since)
	can := s.c.opts.Metrics.SnapshotSince(s.name, candidate, since)
	res := analysis.Judge(analysis.ConfigFrom(sc.Canary), base, can)
	return Comparison{
		Baseline: base,
		Canary:   can,
		Verdict:  res.Verdict.String(),
		Reason:   res.Reason,
		Summary: map[string]map[string]float64{
			baseline:  StatsSummary(base),
			candidate: StatsSummary(can),
		},
	}
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
