package engine

import (
	"fmt"
	"net/url"
	"os"
	"strings"
)

// DefaultHost is the engine address used when neither an explicit host nor
// DOCKER_HOST is set.
const DefaultHost = "unix:///var/run/docker.sock"

// HostFromEnv returns DOCKER_HOST when set, else DefaultHost.
func HostFromEnv() string {
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return h
	}
	return DefaultHost
}

// endpoint is a parsed engine address.
type endpoint struct {
	network string // "unix" or "tcp"
	address string // socket path or host:port
}

// parseHost accepts unix:///path, tcp://host:port and http://host:port.
// TLS (https://, DOCKER_TLS_VERIFY) is refused with a clear error: cutover
// talks to the local engine only.
func parseHost(host string) (endpoint, error) {
	u, err := url.Parse(host)
	if err != nil {
		return endpoint{}, fmt.Errorf("%w %q: %w", ErrInvalidHost, host, err)
	}
	switch u.Scheme {
	case "unix":
		p := u.Path
		if p == "" {
			p = u.Opaque
		}
		if p == "" {
			return endpoint{}, fmt.Errorf("%w %q: missing socket path, e.g. %s", ErrInvalidHost, host, DefaultHost)
		}
		return endpoint{network: "unix", address: p}, nil
	case "tcp", "http":
		if os.Getenv("DOCKER_TLS_VERIFY") != "" {
			return endpoint{}, fmt.Errorf("%w %q: tls is not supported; use the local unix socket", ErrInvalidHost, host)
		}
		if u.Host == "" || !strings.Contains(u.Host, ":") {
			return endpoint{}, fmt.Errorf("%w %q: want tcp://host:port", ErrInvalidHost, host)
		}
		return endpoint{network: "tcp", address: u.Host}, nil
	default:
		return endpoint{}, fmt.Errorf("%w %q: scheme must be unix or tcp (tls and ssh are not supported)", ErrInvalidHost, host)
	}
}
