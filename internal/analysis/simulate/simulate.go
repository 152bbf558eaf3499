// Package simulate replays synthetic traffic through canary analysis: a
// steady request rate split between a baseline and a canary version, judged
// at a fixed interval on everything seen since the step began, until the
// verdict is no longer Wait. It exists to test and benchmark package
// analysis; it is deterministic for a given seed.
package simulate

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/cutover-dev/cutover/internal/analysis"
	"github.com/cutover-dev/cutover/internal/metrics"
)

// ErrInvalidScenario is returned, wrapped, by Run for a Scenario it cannot replay.
var ErrInvalidScenario = errors.New("invalid simulation scenario")

// Version is the behaviour of one version: each request fails with
// probability ErrorRate, and takes Median·e^(Sigma·Z) + Shift with Z
// standard normal (a lognormal latency, optionally shifted).
type Version struct {
	ErrorRate float64
	Median    time.Duration
	Sigma     float64
	Shift     time.Duration
}

// Scenario is one simulated canary step.
type Scenario struct {
	// Rate is the total request rate in requests per second (required).
	Rate float64
	// Weight is the canary's share of requests, in (0, 1) (required).
	Weight float64
	// Baseline and Canary are the two versions' behaviour.
	Baseline, Canary Version
	// Interval is how often the analysis runs (default 1s).
	Interval time.Duration
	// MaxDuration ends the step with Wait when no verdict came (default 1h).
	MaxDuration time.Duration
	// Config is the analysis configuration.
	Config analysis.Config
	// Seed selects the random stream.
	Seed uint64
}

// Outcome is how a simulated step ended.
type Outcome struct {
	// Result is the last judgement; its Verdict is Wait if MaxDuration passed.
	Result analysis.Result
	// Elapsed is the simulated time until Result.
	Elapsed time.Duration
	// Judgements counts the calls to analysis.Judge.
	Judgements int
}

// Run replays s until a verdict other than Wait or until s.MaxDuration.
func Run(s Scenario) (Outcome, error) {
	if s.Interval == 0 {
		s.Interval = time.Second
	}
	if s.MaxDuration == 0 {
		s.MaxDuration = time.Hour
	}
	if !(s.Rate > 0) || !(s.Weight > 0 && s.Weight < 1) || s.Interval < 0 || s.MaxDuration < 0 {
		return Outcome{}, fmt.Errorf("%w: rate %g, weight %g, interval %v, max duration %v",
			ErrInvalidScenario, s.Rate, s.Weight, s.Interval, s.MaxDuration)
	}
	if err := s.Config.Validate(); err != nil {
		return Outcome{}, fmt.Errorf("%w: %w", ErrInvalidScenario, err)
	}
	r := rand.New(rand.NewPCG(s.Seed, 0x9e3779b97f4a7c15))
	var base, can metrics.Stats
	var out Outcome
	carry := 0.0
	for out.Elapsed < s.MaxDuration {
		carry += s.Rate * s.Interval.Seconds()
		n := int(carry)
		carry -= float64(n)
		for range n {
			if r.Float64() < s.Weight {
				observe(r, &can, s.Canary)
			} else {
				observe(r, &base, s.Baseline)
			}
		}
		out.Elapsed += s.Interval
		out.Result = analysis.Judge(s.Config, base, can)
		out.Judgements++
		if out.Result.Verdict != analysis.Wait {
			break
		}
	}
	return out, nil
}

// observe records one request of version v into st.
func observe(r *rand.Rand, st *metrics.Stats, v Version) {
	st.Requests++
	if r.Float64() < v.ErrorRate {
		st.Status5xx++
	} else {
		st.Status2xx++
	}
	d := float64(v.Median)*math.Exp(v.Sigma*r.NormFloat64()) + float64(v.Shift)
	st.Latency.Add(time.Duration(d))
}
