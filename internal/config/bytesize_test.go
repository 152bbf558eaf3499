package config

import "testing"

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "1048576": 1048576, "10MB": 10_000_000, "512KiB": 524_288, "1 GiB": 1 << 30,
		"2kb": 2000, "1.5MiB": 1572864, "7B": 7, " 3 mib ": 3 << 20, "-1": -1,
	} {
		got, err := ParseByteSize(in)
		if err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MB", "10 parsecs", "1.2.3MB", "10M", "9999999TiB", "0x10"} {
		if got, err := ParseByteSize(in); err == nil {
			t.Errorf("ParseByteSize(%q) = %d, want an error", in, got)
		}
	}
}
