package analysis

import (
	"errors"
	"fmt"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
)

// Defaults applied by Judge to zero Config fields.
const (
	DefaultConfidence           = 0.99
	DefaultMinRequests          = 100
	DefaultMaxErrorRateIncrease = 1.0
	DefaultMaxLatencyIncrease   = 20.0
	DefaultMinLatencyIncrease   = 5 * time.Millisecond
)

// ErrInvalidConfig is returned, wrapped, by Config.Validate.
var ErrInvalidConfig = errors.New("invalid canary analysis config")

// Config sets how sure the analysis must be and how much worse a canary may
// be than its baseline. A zero field means its default, so the zero Config
// is ready to use. A Config is a plain value, safe to share.
type Config struct {
	// Confidence is the probability that a promotion or a rollback is
	// right, in [0.5, 1) (default 0.99): a canary as good as its baseline is
	// rolled back, and one 2·MaxErrorRateIncrease points worse promoted,
	// with probability below 1−Confidence over the whole canary, however
	// often it is judged (see the package documentation for how the checks
	// and windows share it).
	Confidence float64
	// MinRequests is how many requests each version must have served before
	// any verdict but Wait (default 100).
	MinRequests int
	// MaxErrorRateIncrease is how far, in percentage points, the canary's
	// error rate may exceed the baseline's (default 1.0). It is the middle of
	// the sequential test's indifference zone: no increase is promoted, an
	// increase of twice it rolled back, one of exactly it goes either way.
	MaxErrorRateIncrease float64
	// MaxLatencyIncrease is how much, in percent, the canary's p50 and p99
	// may exceed the baseline's (default 20).
	MaxLatencyIncrease float64
	// MinLatencyIncrease is a latency increase that is never judged a
	// regression however large in percent (default 5ms); the tolerance of a
	// quantile is max(MaxLatencyIncrease% of it, MinLatencyIncrease).
	MinLatencyIncrease time.Duration
}

// ConfigFrom returns the analysis settings of a service's canary section.
// Zero fields keep their meaning of "default".
func ConfigFrom(c config.Canary) Config {
	return Config{
		Confidence:           c.Confidence,
		MinRequests:          c.MinRequests,
		MaxErrorRateIncrease: c.MaxErrorRateIncrease,
		MaxLatencyIncrease:   c.MaxLatencyIncrease,
		MinLatencyIncrease:   time.Duration(c.MinLatencyIncrease),
	}
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Confidence == 0 {
		c.Confidence = DefaultConfidence
	}
	if c.MinRequests == 0 {
		c.MinRequests = DefaultMinRequests
	}
	if c.MaxErrorRateIncrease == 0 {
		c.MaxErrorRateIncrease = DefaultMaxErrorRateIncrease
	}
	if c.MaxLatencyIncrease == 0 {
		c.MaxLatencyIncrease = DefaultMaxLatencyIncrease
	}
	if c.MinLatencyIncrease == 0 {
		c.MinLatencyIncrease = DefaultMinLatencyIncrease
	}
	return c
}

// Validate reports the first field of c (after defaults) that is out of
// range, wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	c = c.WithDefaults()
	switch {
	case !(c.Confidence >= 0.5 && c.Confidence < 1):
		return fmt.Errorf("%w: confidence %g must be at least 0.5 and below 1", ErrInvalidConfig, c.Confidence)
	case c.MinRequests < 1:
		return fmt.Errorf("%w: min_requests %d must be positive", ErrInvalidConfig, c.MinRequests)
	case !(c.MaxErrorRateIncrease > 0 && c.MaxErrorRateIncrease < 100):
		return fmt.Errorf("%w: max_error_rate_increase %g must be between 0 and 100 percentage points", ErrInvalidConfig, c.MaxErrorRateIncrease)
	case !(c.MaxLatencyIncrease > 0) || c.MaxLatencyIncrease > 1e6:
		return fmt.Errorf("%w: max_latency_increase %g must be a positive percentage", ErrInvalidConfig, c.MaxLatencyIncrease)
	case c.MinLatencyIncrease < 0:
		return fmt.Errorf("%w: min_latency_increase %v must not be negative", ErrInvalidConfig, c.MinLatencyIncrease)
	}
	return nil
}
