package config

import (
	"fmt"
	"strings"
	"time"
)

// ParseDuration reads a duration as written in cutover.yaml: a Go duration
// such as "30s", "5m" or "1h30m", or a bare "0". A number without a unit is
// rejected because its unit would be a guess.
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("expected a duration like 30s, got %q", s)
	}
	return Duration(d), nil
}

// String formats d like time.Duration does ("1m30s").
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText writes d as "1m30s", so a Config can be printed as YAML or JSON.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads d with ParseDuration.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}
