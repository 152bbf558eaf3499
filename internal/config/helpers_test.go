package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestPortPool(t *testing.T) {
	tests := []struct {
		s    Service
		want []int
	}{
		{Service{Ports: []int{8081, 8080}}, []int{8081, 8080}},
		{Service{PortRange: "9000-9003"}, []int{9000, 9001, 9002, 9003}},
		{Service{PortRange: "9003-9000"}, nil},
		{Service{}, nil},
	}
	for _, tt := range tests {
		if got := tt.s.PortPool(); !slices.Equal(got, tt.want) {
			t.Errorf("PortPool(%+v) = %v, want %v", tt.s, got, tt.want)
		}
	}
	s := Service{Ports: []int{1, 2}}
	s.PortPool()[0] = 99
	if s.Ports[0] != 1 {
		t.Error("PortPool returned the service's own slice")
	}
}

func TestStatusRange(t *testing.T) {
	for status, want := range map[string][2]int{
		"200-399": {200, 399}, "204": {204, 204}, "": {200, 399}, "bogus": {200, 399}, " 200 - 299 ": {200, 299},
	} {
		lo, hi := Health{Status: status}.StatusRange()
		if lo != want[0] || hi != want[1] {
			t.Errorf("StatusRange(%q) = %d-%d, want %d-%d", status, lo, hi, want[0], want[1])
		}
	}
}

func TestMemoryBytes(t *testing.T) {
	for in, want := range map[string]int64{"512m": 512 << 20, "1g": 1 << 30, "1.5G": 3 << 29, "64MiB": 64 << 20, "": 0} {
		got, err := (&Docker{Memory: in}).MemoryBytes()
		if err != nil || got != want {
			t.Errorf("MemoryBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"2x", "1k", "lots", "-5m"} {
		if _, err := (&Docker{Memory: in}).MemoryBytes(); err == nil {
			t.Errorf("MemoryBytes(%q) succeeded", in)
		}
	}
}

func TestAdminTokenSources(t *testing.T) {
	env := func(v string) func(string) (string, bool) {
		return func(k string) (string, bool) { return v, k == TokenEnv && v != "" }
	}
	c := &Config{}
	if tok, err := c.AdminToken(env(" from-env\n")); err != nil || tok != "from-env" {
		t.Errorf("AdminToken from env = %q, %v", tok, err)
	}
	if _, err := c.AdminToken(env("")); !errors.Is(err, ErrNoToken) {
		t.Errorf("AdminToken with nothing = %v, want ErrNoToken", err)
	}
	empty := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.Admin.TokenFile = empty
	if _, err := c.AdminToken(env("from-env")); !errors.Is(err, ErrNoToken) {
		t.Errorf("AdminToken with an empty file = %v, want ErrNoToken", err)
	}
}
