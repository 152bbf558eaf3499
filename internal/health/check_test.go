package health

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
)

func TestCheckDefaults(t *testing.T) {
	got := Check{}.WithDefaults()
	want := Check{Type: "http", Path: "/", StatusMin: 200, StatusMax: 399, Interval: time.Second,
		Timeout: 2 * time.Second, HealthyThreshold: 2, UnhealthyThreshold: 3}
	if got != want {
		t.Fatalf("defaults = %+v, want %+v", got, want)
	}
	if got := (Check{StatusMin: 204}).WithDefaults(); got.StatusMin != 204 || got.StatusMax != 204 {
		t.Fatalf("single status = %d-%d", got.StatusMin, got.StatusMax)
	}
}

func TestParseStatusRange(t *testing.T) {
	tests := []struct {
		in      string
		lo, hi  int
		errPart string
	}{
		{"200-399", 200, 399, ""},
		{"200", 200, 200, ""},
		{" 200 - 299 ", 200, 299, ""},
		{"abc", 0, 0, `write a code or range, e.g. "200" or "200-399"`},
		{"200-", 0, 0, "write a code or range"},
		{"", 0, 0, "write a code or range"},
		{"99-200", 0, 0, "codes go from 100 to 599"},
		{"200-600", 0, 0, "codes go from 100 to 599"},
		{"399-200", 0, 0, "starts above where it ends"},
	}
	for _, tt := range tests {
		lo, hi, err := ParseStatusRange(tt.in)
		if tt.errPart == "" {
			if err != nil || lo != tt.lo || hi != tt.hi {
				t.Errorf("ParseStatusRange(%q) = %d, %d, %v", tt.in, lo, hi, err)
			}
			continue
		}
		if err == nil || !errors.Is(err, ErrInvalidCheck) || !strings.Contains(err.Error(), tt.errPart) {
			t.Errorf("ParseStatusRange(%q) error = %v, want one containing %q", tt.in, err, tt.errPart)
		}
	}
}

func TestCheckFromConfig(t *testing.T) {
	c, err := CheckFromConfig(config.Health{
		Path: "/healthz", Port: 9090, Host: "shop.example.com", Status: "200-299",
		Interval: config.Duration(500 * time.Millisecond), Timeout: config.Duration(time.Second),
		HealthyThreshold: 1, UnhealthyThreshold: 5,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Check{Type: "http", Path: "/healthz", Port: 9090, Host: "shop.example.com", StatusMin: 200, StatusMax: 299,
		Interval: 500 * time.Millisecond, Timeout: time.Second, HealthyThreshold: 1, UnhealthyThreshold: 5}
	if c != want {
		t.Fatalf("got %+v\nwant %+v", c, want)
	}

	c, err = CheckFromConfig(config.Health{Type: "tcp", Status: "garbage"})
	if err != nil || c.Type != TypeTCP {
		t.Fatalf("tcp: %+v, %v", c, err)
	}

	bad := []struct {
		h       config.Health
		errPart string
	}{
		{config.Health{Type: "udp"}, `type "udp": use "http" or "tcp"`},
		{config.Health{Status: "2xx"}, `status "2xx"`},
		{config.Health{Path: "healthz"}, "must start with /"},
		{config.Health{Port: 70000}, "port 70000"},
		{config.Health{Host: "a b"}, "not a host name"},
		{config.Health{Interval: config.Duration(-time.Second)}, "interval -1s"},
		{config.Health{Timeout: config.Duration(-time.Second)}, "timeout -1s"},
		{config.Health{HealthyThreshold: -1}, "healthy threshold -1"},
		{config.Health{UnhealthyThreshold: -2}, "unhealthy threshold -2"},
	}
	for _, tt := range bad {
		_, err := CheckFromConfig(tt.h)
		if !errors.Is(err, ErrInvalidCheck) || !strings.Contains(err.Error(), tt.errPart) {
			t.Errorf("CheckFromConfig(%+v) = %v, want error containing %q", tt.h, err, tt.errPart)
		}
	}
}
