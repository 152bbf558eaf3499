package proxy

import (
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"time"
)

// Default names used when a ServiceSpec leaves them empty.
const (
	DefaultStickyCookie = "cutover_bucket"
	DefaultForceHeader  = "X-Cutover-Version"
	DefaultForceCookie  = "cutover_version"
)

// MaxTargetsPerSet bounds the number of targets in one Set.
const MaxTargetsPerSet = 64

// TargetSpec names one upstream instance. ID identifies the target across
// routing-table versions (its in-flight counter, health state and connection
// pool are keyed by ID); Addr is its "host:port".
type TargetSpec struct {
	ID   string
	Addr string
}

// Set is the group of targets serving one version of a service.
type Set struct {
	// Version names the version (unique within the service).
	Version string
	// Targets lists the instances; requests are balanced across them.
	Targets []TargetSpec
}

// ServiceSpec describes one service: its routes, its active target set and an
// optional candidate set receiving Weight percent of users.
type ServiceSpec struct {
	// Name identifies the service; it is required and unique.
	Name string
	// Hosts lists host names routed to the service: exact ("example.com"),
	// wildcard ("*.example.com", any depth of subdomain, not the apex) or "*"
	// for any host. Default ["*"]. Matching ignores case and port.
	Hosts []string
	// PathPrefix routes only paths equal to it or below it (default "/");
	// among matching services of a host the longest prefix wins.
	PathPrefix string
	// StripPrefix removes PathPrefix from the path before forwarding.
	StripPrefix bool

	// Active is the set receiving traffic not sent to Candidate.
	Active Set
	// Candidate, if not nil, receives Weight percent of users.
	Candidate *Set
	// Weight is the percentage (0–100, fractional allowed) of users sent to Candidate.
	Weight float64

	// Balance selects how requests are spread over the targets of a set
	// (default RoundRobin, the zero value).
	Balance Balance

	// StickyCookie is the cookie the proxy sets to keep a user on one version
	// during a split (default "cutover_bucket").
	StickyCookie string
	// StickyHeader, if set, keys the assignment on this request header (for
	// example "X-User-Id") before the cookie.
	StickyHeader string
	// ForceHeader is a request header naming a version to force (default "X-Cutover-Version").
	ForceHeader string
	// ForceCookie is a cookie naming a version to force (default "cutover_version").
	ForceCookie string

	// Gateway, if not nil, redirects and changes headers at the edge.
	Gateway *Gateway
	// Compression, if not nil, compresses responses for clients that
	// accept it.
	Compression *Compression
	// Files serve directories under path prefixes instead of the
	// instances; the first whose prefix the path is under wins.
	Files []FileRoute

	// MaxBodyBytes limits request bodies; larger requests get 413 (0: no limit).
	MaxBodyBytes int64
	// BodyReadTimeout bounds the wait for each read of the request body
	// (idle time between reads); a slower client gets 408 and the
	// upstream connection is closed (0: no limit).
	BodyReadTimeout time.Duration
	// MinBodyRate is the lowest request body rate in bytes per second,
	// averaged over MinBodyRateWindow of time spent waiting for the client;
	// a slower client gets 408 (0: no minimum).
	MinBodyRate int64
	// MinBodyRateWindow is the window MinBodyRate is averaged over
	// (default 10s).
	MinBodyRateWindow time.Duration
	// BufferRequests reads each request body completely before an
	// upstream is picked, so slow clients never hold an upstream
	// connection. Bodies are held in memory up to MaxBodyBytes, or
	// DefaultBufferMaxBytes (8 MiB) when that is 0; larger ones get 413.
	BufferRequests bool
	// ResponseHeaderTimeout bounds the wait for the upstream's response
	// headers; expiry gets 504 (0: no limit). A target listed by several
	// services uses the value of the last one applied.
	ResponseHeaderTimeout time.Duration
}

// withDefaults returns a copy of s with defaults applied and hosts and
// prefix normalised.
func (s ServiceSpec) withDefaults() ServiceSpec {
	if len(s.Hosts) == 0 {
		s.Hosts = []string{"*"}
	} else {
		hosts := make([]string, len(s.Hosts))
		for i, h := range s.Hosts {
			hosts[i] = normalizeHostPattern(h)
		}
		s.Hosts = hosts
	}
	s.PathPrefix = normalizePrefix(s.PathPrefix)
	if s.StickyCookie == "" {
		s.StickyCookie = DefaultStickyCookie
	}
	if s.ForceHeader == "" {
		s.ForceHeader = DefaultForceHeader
	}
	if s.ForceCookie == "" {
		s.ForceCookie = DefaultForceCookie
	}
	if s.Compression != nil {
		c := s.Compression.withDefaults()
		s.Compression = &c
	}
	s.Active.Targets = append([]TargetSpec(nil), s.Active.Targets...)
	if s.Candidate != nil {
		c := *s.Candidate
		c.Targets = append([]TargetSpec(nil), c.Targets...)
		s.Candidate = &c
	}
	return s
}

// normalizeHostPattern lowercases h and removes a port.
func normalizeHostPattern(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	return hostOnly(h)
}

// normalizePrefix returns p with a leading slash and without a trailing one
// ("/" stays "/").
func normalizePrefix(p string) string {
	if p == "" || p == "/" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	for len(p) > 1 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	return p
}

// validate checks a spec that already has defaults applied.
func (s *ServiceSpec) validate() error {
	if s.Name == "" {
		return fmt.Errorf("%w: name is empty", ErrInvalidSpec)
	}
	for _, h := range s.Hosts {
		if err := validateHostPattern(h); err != nil {
			return fmt.Errorf("%w: service %q: %w", ErrInvalidSpec, s.Name, err)
		}
	}
	if strings.ContainsAny(s.PathPrefix, "?# ") {
		return fmt.Errorf("%w: service %q: path prefix %q must be a plain path", ErrInvalidSpec, s.Name, s.PathPrefix)
	}
	if math.IsNaN(s.Weight) || s.Weight < 0 || s.Weight > 100 {
		return fmt.Errorf("%w: service %q: weight %v must be between 0 and 100", ErrInvalidSpec, s.Name, s.Weight)
	}
	if s.Balance != RoundRobin && s.Balance != LeastInFlight {
		return fmt.Errorf("%w: service %q: unknown balance %d", ErrInvalidSpec, s.Name, int(s.Balance))
	}
	if s.MaxBodyBytes < 0 {
		return fmt.Errorf("%w: service %q: max body bytes must not be negative", ErrInvalidSpec, s.Name)
	}
	if s.BodyReadTimeout < 0 || s.MinBodyRate < 0 || s.MinBodyRateWindow < 0 {
		return fmt.Errorf("%w: service %q: body read timeout, minimum body rate and its window must not be negative", ErrInvalidSpec, s.Name)
	}
	if s.ResponseHeaderTimeout < 0 {
		return fmt.Errorf("%w: service %q: response header timeout must not be negative", ErrInvalidSpec, s.Name)
	}
	if err := s.Compression.validate(); err != nil {
		return fmt.Errorf("%w: service %q: compression: %w", ErrInvalidSpec, s.Name, err)
	}
	for _, f := range s.Files {
		if !strings.HasPrefix(f.Prefix, "/") || !strings.HasSuffix(f.Prefix, "/") {
			return fmt.Errorf("%w: service %q: file route prefix %q must start and end with /", ErrInvalidSpec, s.Name, f.Prefix)
		}
	}
	if err := validateSet(&s.Active); err != nil {
		return fmt.Errorf("%w: service %q: active set: %w", ErrInvalidSpec, s.Name, err)
	}
	if s.Candidate != nil {
		if err := validateSet(s.Candidate); err != nil {
			return fmt.Errorf("%w: service %q: candidate set: %w", ErrInvalidSpec, s.Name, err)
		}
		if s.Candidate.Version == s.Active.Version {
			return fmt.Errorf("%w: service %q: candidate version %q equals the active version", ErrInvalidSpec, s.Name, s.Active.Version)
		}
	}
	return nil
}

func validateHostPattern(h string) error {
	if h == "*" {
		return nil
	}
	name := strings.TrimPrefix(h, "*.")
	if name == "" || strings.ContainsAny(name, "*/ ") {
		return fmt.Errorf("host %q must be a name, \"*.name\" or \"*\"", h)
	}
	return nil
}

func validateSet(set *Set) error {
	if set.Version == "" {
		return fmt.Errorf("version is empty")
	}
	if len(set.Targets) > MaxTargetsPerSet {
		return fmt.Errorf("%d targets, at most %d allowed", len(set.Targets), MaxTargetsPerSet)
	}
	seen := make(map[string]bool, len(set.Targets))
	for _, t := range set.Targets {
		if t.ID == "" {
			return fmt.Errorf("target with addr %q has no id", t.Addr)
		}
		if seen[t.ID] {
			return fmt.Errorf("target %q listed twice", t.ID)
		}
		seen[t.ID] = true
		if err := validateAddr(t.Addr); err != nil {
			return fmt.Errorf("target %q: %w", t.ID, err)
		}
	}
	return nil
}

func validateAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return fmt.Errorf("addr %q must be host:port", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("addr %q has an invalid port", addr)
	}
	return nil
}
