package analysis

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
)

func TestConfigFrom(t *testing.T) {
	got := ConfigFrom(config.Canary{
		Confidence:           0.95,
		MinRequests:          50,
		MaxErrorRateIncrease: 0.5,
		MaxLatencyIncrease:   10,
		MinLatencyIncrease:   config.Duration(2 * time.Millisecond),
	})
	want := Config{Confidence: 0.95, MinRequests: 50, MaxErrorRateIncrease: 0.5, MaxLatencyIncrease: 10, MinLatencyIncrease: 2 * time.Millisecond}
	if got != want {
		t.Errorf("ConfigFrom = %+v, want %+v", got, want)
	}
}

func TestWithDefaults(t *testing.T) {
	want := Config{Confidence: 0.99, MinRequests: 100, MaxErrorRateIncrease: 1, MaxLatencyIncrease: 20, MinLatencyIncrease: 5 * time.Millisecond}
	if got := (Config{}).WithDefaults(); got != want {
		t.Errorf("zero Config with defaults = %+v, want %+v", got, want)
	}
	set := Config{Confidence: 0.9, MinRequests: 7, MaxErrorRateIncrease: 2, MaxLatencyIncrease: 5, MinLatencyIncrease: time.Millisecond}
	if got := set.WithDefaults(); got != set {
		t.Errorf("set Config with defaults = %+v, want unchanged", got)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		cfg   Config
		field string
	}{
		{Config{}, ""},
		{Config{Confidence: 0.4}, "confidence"},
		{Config{Confidence: 1}, "confidence"},
		{Config{MinRequests: -1}, "min_requests"},
		{Config{MaxErrorRateIncrease: -1}, "max_error_rate_increase"},
		{Config{MaxErrorRateIncrease: 100}, "max_error_rate_increase"},
		{Config{MaxLatencyIncrease: -5}, "max_latency_increase"},
		{Config{MinLatencyIncrease: -time.Millisecond}, "min_latency_increase"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if tt.field == "" {
			if err != nil {
				t.Errorf("%+v: %v, want valid", tt.cfg, err)
			}
			continue
		}
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("%+v: %v, want ErrInvalidConfig naming %s", tt.cfg, err, tt.field)
		}
	}
}
