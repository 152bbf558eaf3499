package config

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ErrNoToken reports that no admin API token is configured.
var ErrNoToken = errors.New("no admin token: set admin.token_file or " + TokenEnv)

// PortPool returns the ports the service's instances may use: Ports, or
// PortRange expanded, in order. It returns nil when neither is set or the
// range is invalid. The result is a fresh slice the caller may keep.
func (s *Service) PortPool() []int {
	if len(s.Ports) > 0 {
		return append([]int(nil), s.Ports...)
	}
	if s.PortRange == "" {
		return nil
	}
	from, to, err := parsePortRange(s.PortRange)
	if err != nil {
		return nil
	}
	pool := make([]int, 0, to-from+1)
	for p := from; p <= to; p++ {
		pool = append(pool, p)
	}
	return pool
}

// StandbyDuration returns how long the old version stays warm after a
// switch: Standby, or 5m when it is unset. 0 means retire at once.
func (s *Service) StandbyDuration() time.Duration {
	if s.Standby == nil {
		return DefaultStandby.D()
	}
	return s.Standby.D()
}

// AccessLogEnabled reports whether the access log is on (default true).
func (c *Config) AccessLogEnabled() bool { return c.AccessLog == nil || *c.AccessLog }

// TrustedPrefixes returns TrustedProxies parsed; a single address becomes a
// /32 or /128 prefix. Entries that do not parse are left out (Validate
// reports them).
func (c *Config) TrustedPrefixes() []netip.Prefix {
	out := make([]netip.Prefix, 0, len(c.TrustedProxies))
	for _, s := range c.TrustedProxies {
		if p, ok := parsePrefix(s); ok {
			out = append(out, p)
		}
	}
	return out
}

// StatusRange returns the accepted status codes as an inclusive range
// (200-399 when Status is empty or invalid).
func (h Health) StatusRange() (lo, hi int) {
	lo, hi, err := parseStatus(h.Status)
	if err != nil {
		return 200, 399
	}
	return lo, hi
}

// AdminToken returns the bearer token for the TCP admin listener: the
// contents of admin.token_file with surrounding space trimmed, else the
// CUTOVER_TOKEN variable read with lookupEnv (which may be nil). It returns
// an error wrapping ErrNoToken when neither yields a token.
func (c *Config) AdminToken(lookupEnv func(string) (string, bool)) (string, error) {
	if c.Admin.TokenFile != "" {
		b, err := os.ReadFile(c.Admin.TokenFile)
		if err != nil {
			return "", fmt.Errorf("read admin.token_file: %w", err)
		}
		if tok := strings.TrimSpace(string(b)); tok != "" {
			return tok, nil
		}
		return "", fmt.Errorf("admin.token_file %s is empty: %w", c.Admin.TokenFile, ErrNoToken)
	}
	if lookupEnv != nil {
		if tok, _ := lookupEnv(TokenEnv); strings.TrimSpace(tok) != "" {
			return strings.TrimSpace(tok), nil
		}
	}
	return "", ErrNoToken
}

var memorySize = regexp.MustCompile(`^(?i)(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$`)

// minDockerMemory is the smallest memory limit Docker accepts.
const minDockerMemory = 6 << 20

// MemoryBytes returns the Memory limit in bytes ("512m" = 512 MiB; units b,
// k, m, g, t are powers of 1024, an optional "b"/"ib" suffix is allowed).
// It returns 0 when Memory is empty.
func (dk *Docker) MemoryBytes() (int64, error) {
	if dk.Memory == "" {
		return 0, nil
	}
	m := memorySize.FindStringSubmatch(strings.TrimSpace(dk.Memory))
	if m == nil {
		return 0, fmt.Errorf("%q is not a size", dk.Memory)
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size", dk.Memory)
	}
	shift := map[string]uint{"": 0, "k": 10, "m": 20, "g": 30, "t": 40}[strings.ToLower(m[2])]
	bytes := int64(n * float64(int64(1)<<shift))
	if bytes < minDockerMemory {
		return 0, fmt.Errorf("%q is below Docker's minimum of 6m", dk.Memory)
	}
	return bytes, nil
}

// BodyTimeout returns the service's request body read timeout:
// BodyReadTimeout, or listen.body_read_timeout's default (60s) when unset.
// 0 means no limit.
func (s *Service) BodyTimeout() time.Duration {
	if s.BodyReadTimeout == nil {
		return DefaultBodyReadTimeout.D()
	}
	return s.BodyReadTimeout.D()
}

// BodyRate returns the service's minimum request body rate in bytes per
// second: MinBodyRate, or listen.min_body_rate's default (500) when unset.
// 0 means no minimum.
func (s *Service) BodyRate() int64 {
	if s.MinBodyRate == nil {
		return DefaultMinBodyRate
	}
	return *s.MinBodyRate
}
