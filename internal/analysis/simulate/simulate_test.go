package simulate

import (
	"errors"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/analysis"
)

var healthy = Version{ErrorRate: 0.01, Median: 20 * time.Millisecond, Sigma: 0.5}

func TestRunIsDeterministic(t *testing.T) {
	s := Scenario{Rate: 50, Weight: 0.1, Baseline: healthy, Canary: healthy, MaxDuration: time.Minute, Seed: 42}
	a, err := Run(s)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Run(s)
	if a.Result.Reason != b.Result.Reason || a.Elapsed != b.Elapsed {
		t.Errorf("same seed, different outcomes: %+v and %+v", a, b)
	}
	s.Seed = 43
	if c, _ := Run(s); c.Result.CanaryRequests == a.Result.CanaryRequests && c.Result.Reason == a.Result.Reason {
		t.Errorf("different seeds, same outcome: %+v", c)
	}
}

func TestRunSplitsTrafficAndStops(t *testing.T) {
	o, err := Run(Scenario{Rate: 100, Weight: 0.25, Baseline: healthy, Canary: healthy, Interval: 2 * time.Second,
		MaxDuration: 10 * time.Second, Config: analysis.Config{MinRequests: 1_000_000}})
	if err != nil {
		t.Fatal(err)
	}
	total := o.Result.BaselineRequests + o.Result.CanaryRequests
	if o.Result.Verdict != analysis.Wait || o.Elapsed != 10*time.Second || o.Judgements != 5 || total != 1000 {
		t.Errorf("outcome %v after %v, %d judgements, %d requests; want wait after 10s, 5, 1000", o.Result.Verdict, o.Elapsed, o.Judgements, total)
	}
	if share := float64(o.Result.CanaryRequests) / float64(total); share < 0.2 || share > 0.3 {
		t.Errorf("canary share %g, want ≈ 0.25", share)
	}
}

func TestRunRejectsBadScenarios(t *testing.T) {
	for _, s := range []Scenario{
		{Rate: 0, Weight: 0.1},
		{Rate: 10, Weight: 0},
		{Rate: 10, Weight: 1},
		{Rate: 10, Weight: 0.1, Interval: -time.Second},
		{Rate: 10, Weight: 0.1, Config: analysis.Config{Confidence: 2}},
	} {
		if _, err := Run(s); !errors.Is(err, ErrInvalidScenario) {
			t.Errorf("Run(%+v) = %v, want ErrInvalidScenario", s, err)
		}
	}
}
