package analysis_test

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/analysis"
	"github.com/cutover-dev/cutover/internal/metrics"
)

// stats returns n requests of which errs are 5xx, with lognormal latency
// around median (σ = 0.5) from a fixed seed.
func stats(n, errs int64, median time.Duration, seed uint64) metrics.Stats {
	r := rand.New(rand.NewPCG(seed, 1))
	s := metrics.Stats{Requests: n, Status5xx: errs, Status2xx: n - errs}
	for range n {
		s.Latency.Add(time.Duration(float64(median) * math.Exp(0.5*r.NormFloat64())))
	}
	return s
}

func TestJudgeEdgeCases(t *testing.T) {
	const ms = time.Millisecond
	noLatency := stats(5000, 0, 20*ms, 9)
	noLatency.Latency = metrics.Histogram{}
	connErrs := stats(2000, 0, 20*ms, 10)
	connErrs.ConnErrors = 400 // also counted in 5xx by metrics; here deliberately only here
	tests := []struct {
		name             string
		cfg              analysis.Config
		baseline, canary metrics.Stats
		want             analysis.Verdict
		reason           string
	}{
		{"no requests at all", analysis.Config{}, metrics.Stats{}, metrics.Stats{}, analysis.Wait, "waiting for data"},
		{"baseline without traffic", analysis.Config{}, metrics.Stats{}, stats(5000, 2500, 300*ms, 1), analysis.Wait, "the baseline has served 0"},
		{"canary without traffic", analysis.Config{}, stats(5000, 0, 20*ms, 1), metrics.Stats{}, analysis.Wait, "the canary has served 0"},
		{"20 requests each", analysis.Config{}, stats(20, 0, 20*ms, 1), stats(20, 10, 20*ms, 2), analysis.Wait, "20 of the 100 requests"},
		{"identical", analysis.Config{}, stats(20000, 200, 20*ms, 3), stats(20000, 200, 20*ms, 3), analysis.Pass, "within tolerance"},
		{"canary all errors", analysis.Config{}, stats(9000, 90, 20*ms, 4), stats(1000, 1000, 20*ms, 5), analysis.Fail, "error rate 100.00%"},
		{"baseline all errors", analysis.Config{}, stats(20000, 20000, 20*ms, 6), stats(20000, 0, 20*ms, 7), analysis.Pass, "within tolerance"},
		{"canary ten times slower", analysis.Config{}, stats(2000, 0, 20*ms, 8), stats(200, 0, 200*ms, 9), analysis.Fail, "p50"},
		{"no latency samples", analysis.Config{}, stats(20000, 0, 20*ms, 11), noLatency, analysis.Wait, "latency_p50"},
		{"connection errors count", analysis.Config{}, stats(20000, 0, 20*ms, 12), connErrs, analysis.Fail, "error rate 20.00%"},
		{"invalid config", analysis.Config{Confidence: 1.5}, stats(20000, 0, 20*ms, 13), stats(20000, 0, 20*ms, 13), analysis.Wait, "confidence"},
		{"min requests applies to fail", analysis.Config{MinRequests: 5000}, stats(9000, 0, 20*ms, 14), stats(1000, 1000, 20*ms, 15), analysis.Wait, "1000 of the 5000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := analysis.Judge(tt.cfg, tt.baseline, tt.canary)
			if res.Verdict != tt.want || !strings.Contains(res.Reason, tt.reason) {
				t.Errorf("Judge = %v %q, want %v with %q", res.Verdict, res.Reason, tt.want, tt.reason)
			}
			if res.BaselineRequests != tt.baseline.Requests || res.CanaryRequests != tt.canary.Requests {
				t.Errorf("requests %d/%d, want %d/%d", res.BaselineRequests, res.CanaryRequests, tt.baseline.Requests, tt.canary.Requests)
			}
		})
	}
}

func TestJudgeChecks(t *testing.T) {
	res := analysis.Judge(analysis.Config{}, stats(9000, 90, 20*time.Millisecond, 1), stats(1000, 100, 20*time.Millisecond, 2))
	if len(res.Checks) != 3 {
		t.Fatalf("got %d checks, want 3", len(res.Checks))
	}
	names := []string{analysis.CheckErrorRate, analysis.CheckLatencyP50, analysis.CheckLatencyP99}
	for i, c := range res.Checks {
		if c.Name != names[i] {
			t.Errorf("check %d is %q, want %q", i, c.Name, names[i])
		}
		if c.Reason == "" || c.PValue < 0 || c.PValue > 1 || c.PWithin < 0 || c.PWithin > 1 {
			t.Errorf("check %s: reason %q, p-values %g and %g", c.Name, c.Reason, c.PValue, c.PWithin)
		}
	}
	er := res.Checks[0]
	if er.Verdict != analysis.Fail || er.Baseline != 1 || er.Canary != 10 || er.Limit != 2 {
		t.Errorf("error_rate check = %+v, want fail 1%% vs 10%% limit 2%%", er)
	}
	p50 := res.Checks[1]
	if p50.Baseline < 18 || p50.Baseline > 22 || p50.Limit != p50.Baseline+5 {
		t.Errorf("latency_p50 check = %+v, want baseline ≈20ms and limit baseline+5ms", p50)
	}
	p99 := res.Checks[2]
	if math.Abs(p99.Limit-1.2*p99.Baseline) > 1e-9 {
		t.Errorf("latency_p99 limit %g, want 1.2 × %g", p99.Limit, p99.Baseline)
	}
	if res.Verdict != analysis.Fail || !strings.Contains(res.Reason, "error rate") {
		t.Errorf("Judge = %v %q, want fail on error rate", res.Verdict, res.Reason)
	}
}

func TestJudgeTolerancesAreConfigurable(t *testing.T) {
	base, can := stats(20000, 200, 20*time.Millisecond, 1), stats(20000, 600, 20*time.Millisecond, 2)
	if res := analysis.Judge(analysis.Config{}, base, can); res.Verdict != analysis.Fail {
		t.Errorf("+2 points with the 1-point default: %v %q, want fail", res.Verdict, res.Reason)
	}
	if res := analysis.Judge(analysis.Config{MaxErrorRateIncrease: 5}, base, can); res.Verdict != analysis.Pass {
		t.Errorf("+2 points with a 5-point tolerance: %v %q, want pass", res.Verdict, res.Reason)
	}
	slow := stats(20000, 200, 30*time.Millisecond, 2)
	if res := analysis.Judge(analysis.Config{}, base, slow); res.Verdict != analysis.Fail {
		t.Errorf("+50%% latency with the 20%% default: %v %q, want fail", res.Verdict, res.Reason)
	}
	if res := analysis.Judge(analysis.Config{MaxLatencyIncrease: 80, MinLatencyIncrease: time.Millisecond}, base, slow); res.Verdict != analysis.Pass {
		t.Errorf("+50%% latency with an 80%% tolerance: %v %q, want pass", res.Verdict, res.Reason)
	}
}

func TestResultJSON(t *testing.T) {
	res := analysis.Judge(analysis.Config{}, stats(200, 0, 20*time.Millisecond, 1), stats(200, 0, 20*time.Millisecond, 2))
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"verdict":"wait"`, `"name":"error_rate"`, `"canary_requests":200`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON %s lacks %s", b, want)
		}
	}
	var back analysis.Result
	if err := json.Unmarshal(b, &back); err != nil || back.Verdict != res.Verdict || len(back.Checks) != 3 {
		t.Errorf("round trip: %v, %+v", err, back)
	}
}

func BenchmarkJudge(b *testing.B) {
	base, can := stats(100000, 1000, 20*time.Millisecond, 1), stats(10000, 100, 20*time.Millisecond, 2)
	for b.Loop() {
		analysis.Judge(analysis.Config{}, base, can)
	}
}
