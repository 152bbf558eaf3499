package health

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
)

// Check types.
const (
	// TypeHTTP probes with an HTTP GET and checks the status code.
	TypeHTTP = "http"
	// TypeTCP probes by opening (and closing) a TCP connection.
	TypeTCP = "tcp"
)

// Defaults applied to the zero fields of a Check.
const (
	DefaultPath               = "/"
	DefaultStatusMin          = 200
	DefaultStatusMax          = 399
	DefaultInterval           = time.Second
	DefaultTimeout            = 2 * time.Second
	DefaultHealthyThreshold   = 2
	DefaultUnhealthyThreshold = 3
)

// ErrInvalidCheck is wrapped by every error about a malformed Check.
var ErrInvalidCheck = errors.New("invalid health check")

// Check describes how to probe an instance. The zero value is an HTTP GET /
// every second, with a 2s timeout, accepting 200..399, healthy after 2
// consecutive successes and unhealthy after 3 consecutive failures. A Check
// is a plain value, safe to share between goroutines.
type Check struct {
	// Type is TypeHTTP (default) or TypeTCP.
	Type string
	// Path is the HTTP request path (default "/"); it may carry a query.
	Path string
	// Port, when not 0, is probed instead of the target address's port
	// (e.g. a management port).
	Port int
	// Host, when set, is sent as the HTTP Host header.
	Host string
	// StatusMin and StatusMax bound the accepted HTTP status codes,
	// inclusive (default 200..399). A redirect is not followed: a 3xx is a
	// status like any other.
	StatusMin, StatusMax int
	// Interval is the pause between the end of one probe and the start of
	// the next (default 1s); Timeout bounds one probe (default 2s).
	Interval, Timeout time.Duration
	// HealthyThreshold is the number of consecutive successes that make a
	// target healthy (default 2); UnhealthyThreshold the number of
	// consecutive failures that make it unhealthy (default 3).
	HealthyThreshold, UnhealthyThreshold int
}

// WithDefaults returns c with every zero field set to its default. A
// StatusMax of 0 with a StatusMin set means exactly StatusMin.
func (c Check) WithDefaults() Check {
	if c.Type == "" {
		c.Type = TypeHTTP
	}
	if c.Path == "" {
		c.Path = DefaultPath
	}
	switch {
	case c.StatusMin == 0 && c.StatusMax == 0:
		c.StatusMin, c.StatusMax = DefaultStatusMin, DefaultStatusMax
	case c.StatusMax == 0:
		c.StatusMax = c.StatusMin
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.HealthyThreshold == 0 {
		c.HealthyThreshold = DefaultHealthyThreshold
	}
	if c.UnhealthyThreshold == 0 {
		c.UnhealthyThreshold = DefaultUnhealthyThreshold
	}
	return c
}

// Validate reports the first problem of c after defaults, wrapping
// ErrInvalidCheck; nil when c can be probed.
func (c Check) Validate() error {
	c = c.WithDefaults()
	switch {
	case c.Type != TypeHTTP && c.Type != TypeTCP:
		return fmt.Errorf("%w: type %q: use %q or %q", ErrInvalidCheck, c.Type, TypeHTTP, TypeTCP)
	case !strings.HasPrefix(c.Path, "/"):
		return fmt.Errorf("%w: path %q: must start with /", ErrInvalidCheck, c.Path)
	case c.Port < 0 || c.Port > 65535:
		return fmt.Errorf("%w: port %d: use 1 to 65535, or 0 for the target's port", ErrInvalidCheck, c.Port)
	case strings.ContainsAny(c.Host, " \t\r\n/"):
		return fmt.Errorf("%w: host %q: not a host name", ErrInvalidCheck, c.Host)
	case c.StatusMin < 100 || c.StatusMax > 599 || c.StatusMin > c.StatusMax:
		return fmt.Errorf("%w: status range %d-%d: use codes from 100 to 599, lowest first", ErrInvalidCheck, c.StatusMin, c.StatusMax)
	case c.Interval < 0:
		return fmt.Errorf("%w: interval %v: must be positive", ErrInvalidCheck, c.Interval)
	case c.Timeout < 0:
		return fmt.Errorf("%w: timeout %v: must be positive", ErrInvalidCheck, c.Timeout)
	case c.HealthyThreshold < 0:
		return fmt.Errorf("%w: healthy threshold %d: must be at least 1", ErrInvalidCheck, c.HealthyThreshold)
	case c.UnhealthyThreshold < 0:
		return fmt.Errorf("%w: unhealthy threshold %d: must be at least 1", ErrInvalidCheck, c.UnhealthyThreshold)
	}
	return nil
}

// CheckFromConfig converts a service's health section into a Check with
// defaults applied. The status is a code ("200") or an inclusive range
// ("200-399"); it is ignored for TCP checks. Errors wrap ErrInvalidCheck.
func CheckFromConfig(h config.Health) (Check, error) {
	c := Check{
		Type:               h.Type,
		Path:               h.Path,
		Port:               h.Port,
		Host:               h.Host,
		Interval:           h.Interval.D(),
		Timeout:            h.Timeout.D(),
		HealthyThreshold:   h.HealthyThreshold,
		UnhealthyThreshold: h.UnhealthyThreshold,
	}
	if c.Type != TypeTCP && strings.TrimSpace(h.Status) != "" {
		lo, hi, err := ParseStatusRange(h.Status)
		if err != nil {
			return Check{}, err
		}
		c.StatusMin, c.StatusMax = lo, hi
	}
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return Check{}, err
	}
	return c, nil
}

// ParseStatusRange reads an accepted status written as a code ("200") or an
// inclusive range ("200-399"), with codes from 100 to 599. Errors wrap
// ErrInvalidCheck.
func ParseStatusRange(s string) (lo, hi int, err error) {
	a, b, isRange := strings.Cut(strings.TrimSpace(s), "-")
	if !isRange {
		b = a
	}
	lo, err1 := strconv.Atoi(strings.TrimSpace(a))
	hi, err2 := strconv.Atoi(strings.TrimSpace(b))
	switch {
	case err1 != nil || err2 != nil:
		return 0, 0, fmt.Errorf("%w: status %q: write a code or range, e.g. \"200\" or \"200-399\"", ErrInvalidCheck, s)
	case lo < 100 || hi > 599:
		return 0, 0, fmt.Errorf("%w: status %q: codes go from 100 to 599", ErrInvalidCheck, s)
	case lo > hi:
		return 0, 0, fmt.Errorf("%w: status %q: the range starts above where it ends", ErrInvalidCheck, s)
	}
	return lo, hi, nil
}
