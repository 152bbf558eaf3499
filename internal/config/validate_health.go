package config

import (
	"fmt"
	"strconv"
	"strings"
)

// parseStatus reads "200-399" or "200".
func parseStatus(s string) (lo, hi int, err error) {
	a, b, isRange := strings.Cut(strings.TrimSpace(s), "-")
	if !isRange {
		b = a
	}
	lo, err1 := strconv.Atoi(strings.TrimSpace(a))
	hi, err2 := strconv.Atoi(strings.TrimSpace(b))
	switch {
	case err1 != nil || err2 != nil:
		return 0, 0, fmt.Errorf("%q is not a status code or range", s)
	case lo < 100 || hi > 599:
		return 0, 0, fmt.Errorf("%q goes outside 100-599", s)
	case lo > hi:
		return 0, 0, fmt.Errorf("%q starts above where it ends", s)
	}
	return lo, hi, nil
}

func (v *validator) health(s *Service, p string) {
	h := &s.Health
	if !v.oneOf(p+".type", h.Type, "http", "tcp") {
		return
	}
	if h.Type == "http" {
		v.pathPrefix(p+".path", h.Path)
		if _, _, err := parseStatus(h.Status); err != nil {
			v.add(p+".status", `write a code or range, e.g. "200" or "200-399"`, "%v", err)
		}
	} else {
		if h.Path != "" {
			v.add(p+".path", "remove it, or use type: http", "only applies to http checks")
		}
		if h.Status != "" {
			v.add(p+".status", "remove it, or use type: http", "only applies to http checks")
		}
	}
	if h.Port < 0 || h.Port > 65535 {
		v.add(p+".port", "use a port from 1 to 65535, or remove it to probe the instance port", "port %d is out of range", h.Port)
	}
	if strings.ContainsAny(h.Host, " \t/") {
		v.add(p+".host", `write a host name such as "shop.example.com"`, "%q is not a host name", h.Host)
	}
	v.atLeast(p+".interval", h.Interval, MinHealthInterval)
	v.atLeast(p+".timeout", h.Timeout, MinHealthTimeout)
	if h.HealthyThreshold < 1 {
		v.add(p+".healthy_threshold", "use 1 or more", "must be at least 1, got %d", h.HealthyThreshold)
	}
	if h.UnhealthyThreshold < 1 {
		v.add(p+".unhealthy_threshold", "use 1 or more", "must be at least 1, got %d", h.UnhealthyThreshold)
	}
}

func (v *validator) canary(c *Canary, p string) {
	if len(c.Steps) == 0 {
		v.add(p+".steps", "list increasing percentages, e.g. [5, 25, 50, 100]", "no steps")
	}
	for i, st := range c.Steps {
		sp := fmt.Sprintf("%s.steps[%d]", p, i)
		switch {
		case st <= 0 || st > 100:
			v.add(sp, "use a percentage above 0 and at most 100", "step %g is out of range", st)
		case i > 0 && st <= c.Steps[i-1]:
			v.add(sp, "list steps in increasing order, e.g. [5, 25, 50, 100]",
				"step %g does not increase on the step before it (%g)", st, c.Steps[i-1])
		}
	}
	if c.Confidence <= 0.5 || c.Confidence >= 1 {
		v.add(p+".confidence", "use a value such as 0.95 or 0.99", "must be above 0.5 and below 1, got %g", c.Confidence)
	}
	if c.MinRequests < 1 {
		v.add(p+".min_requests", "use 1 or more (default 100)", "must be at least 1, got %d", c.MinRequests)
	}
	if c.MaxErrorRateIncrease < 0 || c.MaxErrorRateIncrease > 100 {
		v.add(p+".max_error_rate_increase", "use percentage points from 0 to 100, e.g. 1",
			"must be from 0 to 100, got %g", c.MaxErrorRateIncrease)
	}
	if c.MaxLatencyIncrease < 0 {
		v.add(p+".max_latency_increase", "use a percentage such as 20", "must not be negative, got %g", c.MaxLatencyIncrease)
	}
	v.atLeast(p+".max_step_duration", c.MaxStepDuration, MinMaxStepDuration)
	if c.MaxStepDuration >= MinMaxStepDuration && c.MaxStepDuration < c.StepDuration {
		v.add(p+".max_step_duration", fmt.Sprintf("use at least step_duration (%s)", c.StepDuration),
			"is shorter than step_duration")
	}
	v.oneOf(p+".on_insufficient_data", c.OnInsufficientData, "fail", "pause")
}

func (v *validator) rolling(s *Service, p string) {
	r := &s.Rolling
	v.nonNegative(p+".max_surge", int64(r.MaxSurge))
	v.nonNegative(p+".max_unavailable", int64(r.MaxUnavailable))
	if r.MaxSurge == 0 && r.MaxUnavailable == 0 {
		v.add(p, "set max_surge: 1 (start one extra instance at a time)",
			"max_surge and max_unavailable are both 0, so no instance could ever be replaced")
	}
	if s.Replicas >= 1 && r.MaxUnavailable >= s.Replicas {
		v.add(p+".max_unavailable", fmt.Sprintf("use at most %d, or raise max_surge instead", s.Replicas-1),
			"%d of %d replicas unavailable would take the whole service down", r.MaxUnavailable, s.Replicas)
	}
}
