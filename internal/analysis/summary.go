package analysis

import (
	"fmt"
	"strings"
)

// waitingForData explains a Wait for lack of requests.
func waitingForData(min, baseline, canary int64) string {
	var short []string
	if canary < min {
		short = append(short, fmt.Sprintf("the canary has served %d", max(canary, 0)))
	}
	if baseline < min {
		short = append(short, fmt.Sprintf("the baseline has served %d", max(baseline, 0)))
	}
	return fmt.Sprintf("waiting for data: %s of the %d requests needed per version", strings.Join(short, " and "), min)
}

// summarize derives the overall verdict from the checks: Fail if any check
// fails (naming the strongest failure), Pass if all pass, Wait otherwise.
func summarize(res Result) (Verdict, string) {
	var failed, waiting []Check
	var passed []Check
	for _, c := range res.Checks {
		switch {
		case c.Verdict == Fail:
			failed = append(failed, c)
		case c.Window == WindowStep:
			// A step's own window can only fail the canary.
		case c.Verdict == Wait:
			waiting = append(waiting, c)
		default:
			passed = append(passed, c)
		}
	}
	switch {
	case len(failed) > 0:
		worst := failed[0]
		for _, c := range failed[1:] {
			if c.PValue < worst.PValue {
				worst = c
			}
		}
		reason := "canary is worse than baseline: " + worst.Reason
		if len(failed) > 1 {
			reason += fmt.Sprintf(" (%d checks failed)", len(failed))
		}
		return Fail, reason
	case len(waiting) > 0:
		names := make([]string, len(waiting))
		for i, c := range waiting {
			names[i] = c.Name
		}
		return Wait, fmt.Sprintf("not yet conclusive after %d canary and %d baseline requests: %s (%s)",
			res.CanaryRequests, res.BaselineRequests, waiting[0].Reason, strings.Join(names, ", "))
	}
	parts := make([]string, len(passed))
	for i, c := range passed {
		parts[i] = c.Reason
	}
	if res.Step < res.Steps {
		return Pass, fmt.Sprintf("step %d of %d may pass after %d canary and %d baseline requests: %s",
			res.Step, res.Steps, res.CanaryRequests, res.BaselineRequests, strings.Join(parts, "; "))
	}
	return Pass, fmt.Sprintf("canary is within tolerance after %d canary and %d baseline requests: %s",
		res.CanaryRequests, res.BaselineRequests, strings.Join(parts, "; "))
}
