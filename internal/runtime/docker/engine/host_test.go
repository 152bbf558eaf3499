package engine

import (
	"errors"
	"testing"
)

func TestParseHost(t *testing.T) {
	tests := []struct {
		host    string
		network string
		address string
		wantErr bool
	}{
		{host: "unix:///var/run/docker.sock", network: "unix", address: "/var/run/docker.sock"},
		{host: "unix:///run/user/1000/docker.sock", network: "unix", address: "/run/user/1000/docker.sock"},
		{host: "tcp://127.0.0.1:2375", network: "tcp", address: "127.0.0.1:2375"},
		{host: "http://localhost:2375", network: "tcp", address: "localhost:2375"},
		{host: "unix://", wantErr: true},
		{host: "tcp://127.0.0.1", wantErr: true},
		{host: "ssh://me@host", wantErr: true},
		{host: "https://host:2376", wantErr: true},
		{host: "/var/run/docker.sock", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			ep, err := parseHost(tt.host)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidHost) {
					t.Fatalf("parseHost(%q) error = %v, want ErrInvalidHost", tt.host, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseHost(%q): %v", tt.host, err)
			}
			if ep.network != tt.network || ep.address != tt.address {
				t.Errorf("parseHost(%q) = %+v, want %s %s", tt.host, ep, tt.network, tt.address)
			}
		})
	}
}

func TestParseHostRefusesTLS(t *testing.T) {
	t.Setenv("DOCKER_TLS_VERIFY", "1")
	if _, err := parseHost("tcp://127.0.0.1:2376"); !errors.Is(err, ErrInvalidHost) {
		t.Fatalf("error = %v, want ErrInvalidHost", err)
	}
}

func TestHostFromEnv(t *testing.T) {
	t.Setenv("DOCKER_HOST", "")
	if got := HostFromEnv(); got != DefaultHost {
		t.Errorf("HostFromEnv() = %q, want %q", got, DefaultHost)
	}
	t.Setenv("DOCKER_HOST", "tcp://127.0.0.1:2375")
	if got := HostFromEnv(); got != "tcp://127.0.0.1:2375" {
		t.Errorf("HostFromEnv() = %q", got)
	}
}
