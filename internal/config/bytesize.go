package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// byteUnits maps a size suffix (lowercased) to its multiplier: decimal
// (KB = 1000) and binary (KiB = 1024) units, as the IEC names them.
var byteUnits = map[string]int64{
	"b":  1,
	"kb": 1000, "mb": 1000 * 1000, "gb": 1000 * 1000 * 1000, "tb": 1000 * 1000 * 1000 * 1000,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
}

// ParseByteSize reads a size as written in cutover.yaml: a plain number of
// bytes ("1048576") or a number with a unit, decimal ("10MB" = 10,000,000
// bytes) or binary ("512KiB" = 524,288 bytes). Units are B, KB, MB, GB, TB,
// KiB, MiB, GiB and TiB, in any case; a space before the unit is allowed.
// Fractions are allowed with a unit ("1.5MiB") and rounded down to a byte.
func ParseByteSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' && r != '-' && r != '+' })
	if i < 0 {
		n, err := strconv.ParseInt(t, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("expected a size like 10MB or 512KiB, got %q", s)
		}
		return n, nil
	}
	num, unit := strings.TrimSpace(t[:i]), strings.ToLower(strings.TrimSpace(t[i:]))
	mult, ok := byteUnits[unit]
	if !ok || num == "" {
		return 0, fmt.Errorf("expected a size like 10MB or 512KiB, got %q (units: B, KB, MB, GB, KiB, MiB, GiB)", s)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("expected a size like 10MB or 512KiB, got %q", s)
	}
	bytes := f * float64(mult)
	if bytes >= math.MaxInt64 || bytes <= math.MinInt64 {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return int64(bytes), nil
}
