package analysis_test

import (
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/analysis"
	"github.com/cutover-dev/cutover/internal/metrics"
)

// scale multiplies every count of s by k, as if it were k times the traffic.
func scale(s metrics.Stats, k int64) metrics.Stats {
	s.Requests *= k
	s.Status2xx *= k
	s.Status5xx *= k
	for i := range s.Latency.Counts {
		s.Latency.Counts[i] *= uint64(k)
	}
	s.Latency.Total *= uint64(k)
	return s
}

// TestJudgeAtHighVolume judges ten million baseline requests: the verdicts
// stay right and a judgement stays cheap.
func TestJudgeAtHighVolume(t *testing.T) {
	base := scale(stats(10000, 100, 20*time.Millisecond, 1), 1000)
	same := scale(stats(10000, 100, 20*time.Millisecond, 1), 100)
	slow := scale(stats(10000, 100, 40*time.Millisecond, 2), 100)
	start := time.Now()
	if res := analysis.Judge(analysis.Config{}, base, same); res.Verdict != analysis.Pass {
		t.Errorf("same: %v %q", res.Verdict, res.Reason)
	}
	if res := analysis.Judge(analysis.Config{}, base, slow); res.Verdict != analysis.Fail {
		t.Errorf("twice as slow: %v %q", res.Verdict, res.Reason)
	}
	t.Logf("two judgements of 10M + 1M requests took %v", time.Since(start))
}
