package analysis_test

import (
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/analysis"
	"github.com/cutover-dev/cutover/internal/analysis/simulate"
)

// healthy is a version with 1% errors and lognormal latency around 20ms.
var healthy = simulate.Version{ErrorRate: 0.01, Median: 20 * time.Millisecond, Sigma: 0.5}

func run(t *testing.T, s simulate.Scenario) simulate.Outcome {
	t.Helper()
	o, err := simulate.Run(s)
	if err != nil {
		t.Fatalf("simulate.Run: %v", err)
	}
	return o
}

// TestAAPasses replays identical baseline and canary traffic: every run must
// end in Pass, none in Fail.
func TestAAPasses(t *testing.T) {
	const runs = 50
	var canaryRequests []int64
	for seed := range uint64(runs) {
		o := run(t, simulate.Scenario{Rate: 50, Weight: 0.1, Baseline: healthy, Canary: healthy, Interval: 5 * time.Second, Seed: seed})
		if o.Result.Verdict != analysis.Pass {
			t.Errorf("seed %d: %v after %v: %s", seed, o.Result.Verdict, o.Elapsed, o.Result.Reason)
		}
		canaryRequests = append(canaryRequests, o.Result.CanaryRequests)
	}
	t.Logf("canary requests until pass: %v", canaryRequests)
}

func TestRegressionsFail(t *testing.T) {
	errorsOnly := healthy
	errorsOnly.ErrorRate = 0
	slow := healthy
	slow.Shift = 200 * time.Millisecond
	failing := errorsOnly
	failing.ErrorRate = 0.05
	tests := []struct {
		name             string
		baseline, canary simulate.Version
		maxCanary        int64
	}{
		{"5% errors vs none", errorsOnly, failing, 1000},
		{"200ms slower", healthy, slow, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for seed := range uint64(10) {
				o := run(t, simulate.Scenario{Rate: 50, Weight: 0.1, Baseline: tt.baseline, Canary: tt.canary, Seed: seed})
				if o.Result.Verdict != analysis.Fail {
					t.Fatalf("seed %d: %v after %v: %s", seed, o.Result.Verdict, o.Elapsed, o.Result.Reason)
				}
				if o.Result.CanaryRequests > tt.maxCanary {
					t.Errorf("seed %d: failed only after %d canary requests, want ≤ %d", seed, o.Result.CanaryRequests, tt.maxCanary)
				}
			}
		})
	}
}

func TestSmallSlowdownPasses(t *testing.T) {
	slower := healthy
	slower.Shift = 2 * time.Millisecond
	for seed := range uint64(10) {
		o := run(t, simulate.Scenario{Rate: 50, Weight: 0.1, Baseline: healthy, Canary: slower, Interval: 5 * time.Second, Seed: seed})
		if o.Result.Verdict != analysis.Pass {
			t.Errorf("seed %d: %v after %v: %s", seed, o.Result.Verdict, o.Elapsed, o.Result.Reason)
		}
	}
}

// TestLowTrafficWaits gives the analysis 20 requests at 1 req/s, even from a
// canary failing half its requests: too little to judge either way.
func TestLowTrafficWaits(t *testing.T) {
	broken := healthy
	broken.ErrorRate = 0.5
	for _, c := range []simulate.Version{healthy, broken} {
		o := run(t, simulate.Scenario{Rate: 1, Weight: 0.5, Baseline: healthy, Canary: c, MaxDuration: 20 * time.Second, Seed: 1})
		if o.Result.Verdict != analysis.Wait || o.Judgements != 20 {
			t.Errorf("canary error rate %g: %v after %d judgements: %s", c.ErrorRate, o.Result.Verdict, o.Judgements, o.Result.Reason)
		}
	}
}

// TestStepsDecideAtSmallTraffic runs canaries through steps [10, 50] at
// 20 req/s, judged every second as the controller does: identical versions
// are promoted and a 1% → 3% regression rolled back, each within minutes,
// with at most one wrong decision per case (the bounds are 0.5% and 1%).
func TestStepsDecideAtSmallTraffic(t *testing.T) {
	const runs = 40
	regressed := healthy
	regressed.ErrorRate = 0.03
	for _, tt := range []struct {
		name   string
		canary simulate.Version
		want   analysis.Verdict
		within time.Duration
	}{
		{"A/A", healthy, analysis.Pass, 8 * time.Minute},
		{"+2 points", regressed, analysis.Fail, 8 * time.Minute},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wrong, slow := 0, 0
			for seed := range uint64(runs) {
				o := run(t, simulate.Scenario{Rate: 20, Steps: []float64{10, 50}, Baseline: healthy, Canary: tt.canary, Seed: seed})
				switch {
				case o.Result.Verdict == analysis.Wait:
					t.Errorf("seed %d: undecided after %v: %s", seed, o.Elapsed, o.Result.Reason)
				case o.Result.Verdict != tt.want:
					wrong++
					t.Logf("seed %d: %v at step %d after %v: %s", seed, o.Result.Verdict, o.Step, o.Elapsed, o.Result.Reason)
				case o.Elapsed > tt.within:
					slow++
				}
			}
			if wrong > 1 {
				t.Errorf("%d of %d runs decided wrongly", wrong, runs)
			}
			if slow > runs/10 {
				t.Errorf("%d of %d runs took longer than %v", slow, runs, tt.within)
			}
		})
	}
}
