// Package simulate replays synthetic traffic through canary analysis: a
// steady request rate split between a baseline and a canary version, judged
// at a fixed interval, either as one step until the verdict is no longer
// Wait, or through a plan of steps as the deploy controller runs them. It exists to test and benchmark package
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
	// Weight is the canary's share of requests, in (0, 1), for a one-step
	// scenario (required unless Steps are given).
	Weight float64
	// Steps, when given, are the canary's traffic percentages below 100, run
	// as the controller does: each step lasts at least StepDuration and
	// passes on a Pass of analysis.JudgeStep; a Fail ends the run; a step
	// still waiting after MaxStepDuration ends it with Wait (the controller
	// pauses there). Passing the last step is promotion.
	Steps []float64
	// StepDuration is the minimum time at each step (default 30s).
	StepDuration time.Duration
	// MaxStepDuration ends a step that found no verdict (default 10m).
	MaxStepDuration time.Duration
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
	// Step is the 1-based step the run ended at (Steps scenarios).
	Step int
}

// Run replays s until a verdict other than Wait or until s.MaxDuration.
func Run(s Scenario) (Outcome, error) {
	if s.Interval == 0 {
		s.Interval = time.Second
	}
	if s.MaxDuration == 0 {
		s.MaxDuration = time.Hour
	}
	if len(s.Steps) > 0 {
		return runSteps(s)
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
				observe(r, s.Canary, &can)
			} else {
				observe(r, s.Baseline, &base)
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

// observe records one request of version v into every st.
func observe(r *rand.Rand, v Version, sts ...*metrics.Stats) {
	failed := r.Float64() < v.ErrorRate
	d := time.Duration(float64(v.Median)*math.Exp(v.Sigma*r.NormFloat64()) + float64(v.Shift))
	for _, st := range sts {
		st.Requests++
		if failed {
			st.Status5xx++
		} else {
			st.Status2xx++
		}
		st.Latency.Add(d)
	}
}

// runSteps replays a plan of steps.
func runSteps(s Scenario) (Outcome, error) {
	if s.StepDuration == 0 {
		s.StepDuration = 30 * time.Second
	}
	if s.MaxStepDuration == 0 {
		s.MaxStepDuration = 10 * time.Minute
	}
	for _, w := range s.Steps {
		if !(w > 0 && w < 100) {
			return Outcome{}, fmt.Errorf("%w: step %g%% must be above 0 and below 100", ErrInvalidScenario, w)
		}
	}
	if !(s.Rate > 0) || s.Interval < 0 || s.StepDuration < 0 || s.MaxStepDuration < s.StepDuration {
		return Outcome{}, fmt.Errorf("%w: rate %g, interval %v, step duration %v, max step duration %v",
			ErrInvalidScenario, s.Rate, s.Interval, s.StepDuration, s.MaxStepDuration)
	}
	if err := s.Config.Validate(); err != nil {
		return Outcome{}, fmt.Errorf("%w: %w", ErrInvalidScenario, err)
	}
	r := rand.New(rand.NewPCG(s.Seed, 0x9e3779b97f4a7c15))
	var whole analysis.Window
	var out Outcome
	carry := 0.0
	for i, w := range s.Steps {
		out.Step = i + 1
		var step analysis.Window
		var at time.Duration
		for {
			carry += s.Rate * s.Interval.Seconds()
			n := int(carry)
			carry -= float64(n)
			for range n {
				if r.Float64() < w/100 {
					observe(r, s.Canary, &whole.Canary, &step.Canary)
				} else {
					observe(r, s.Baseline, &whole.Baseline, &step.Baseline)
				}
			}
			at += s.Interval
			out.Elapsed += s.Interval
			out.Result = analysis.JudgeStep(s.Config, analysis.Step{Index: i + 1, Of: len(s.Steps)}, whole, step)
			out.Judgements++
			v := out.Result.Verdict
			if v == analysis.Fail {
				return out, nil
			}
			if v == analysis.Pass && at >= s.StepDuration {
				break
			}
			if at >= s.MaxStepDuration {
				out.Result.Verdict = analysis.Wait
				return out, nil
			}
		}
	}
	return out, nil
}
