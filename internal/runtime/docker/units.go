package docker

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// minMemory is the engine's lower bound for a memory limit.
const minMemory = 6 << 20

// parseMemory reads a size such as "512m", "1.5g", "256MiB" or "1073741824"
// (bytes) with binary units (k = 1024), as docker's --memory does. The
// empty string means no limit (0).
func parseMemory(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "ib"), "b")
	mult := 1.0
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k':
			mult = 1 << 10
		case 'm':
			mult = 1 << 20
		case 'g':
			mult = 1 << 30
		case 't':
			mult = 1 << 40
		}
		if mult != 1 {
			t = t[:n-1]
		}
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
	if err != nil || f <= 0 || math.IsInf(f, 0) || f*mult > math.MaxInt64 {
		return 0, fmt.Errorf("%w: docker.memory %q: want a size such as \"512m\" or \"1g\"", ErrInvalidSpec, s)
	}
	b := int64(f * mult)
	if b < minMemory {
		return 0, fmt.Errorf("%w: docker.memory %q: docker needs at least 6m", ErrInvalidSpec, s)
	}
	return b, nil
}

// nanoCPUs converts a CPU count (1.5 = one and a half cores) to the engine's
// unit; 0 means no limit.
func nanoCPUs(cpus float64) (int64, error) {
	if cpus < 0 || math.IsNaN(cpus) || cpus > 1e6 {
		return 0, fmt.Errorf("%w: docker.cpus %v: want a positive number such as 0.5 or 2", ErrInvalidSpec, cpus)
	}
	return int64(math.Round(cpus * 1e9)), nil
}
