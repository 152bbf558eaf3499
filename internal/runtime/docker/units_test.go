package docker

import (
	"errors"
	"testing"
)

func TestParseMemory(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"", 0},
		{"512m", 512 << 20},
		{"512M", 512 << 20},
		{"512mb", 512 << 20},
		{"256MiB", 256 << 20},
		{"1g", 1 << 30},
		{"1.5g", 3 << 29},
		{"65536k", 64 << 20},
		{"10485760", 10 << 20},
		{"10485760b", 10 << 20},
	}
	for _, tt := range tests {
		got, err := parseMemory(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("parseMemory(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"lots", "-1m", "0", "1m", "m", "12x", "1e400g"} {
		if _, err := parseMemory(bad); !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("parseMemory(%q) error = %v, want ErrInvalidSpec", bad, err)
		}
	}
}

func TestNanoCPUs(t *testing.T) {
	if got, err := nanoCPUs(1.5); err != nil || got != 1_500_000_000 {
		t.Errorf("nanoCPUs(1.5) = %d, %v", got, err)
	}
	if got, err := nanoCPUs(0); err != nil || got != 0 {
		t.Errorf("nanoCPUs(0) = %d, %v", got, err)
	}
	if _, err := nanoCPUs(-1); !errors.Is(err, ErrInvalidSpec) {
		t.Errorf("nanoCPUs(-1) error = %v", err)
	}
}
