package sqlparse

import (
	"strings"
	"testing"
)

// TestLargeInputsStayLinear guards against quadratic scans: each input is
// a few megabytes of one pathological pattern.
func TestLargeInputsStayLinear(t *testing.T) {
	inputs := map[string]string{
		"spaces":           strings.Repeat(" ", 2<<20),
		"open quote":       "SELECT '" + strings.Repeat("a", 2<<20),
		"open comment":     "/*" + strings.Repeat("/*", 1<<20),
		"empty statements": strings.Repeat(";\n", 1<<20),
		"many statements":  strings.Repeat("ALTER TABLE t ADD COLUMN c int;\n", 20000),
		"dollars":          strings.Repeat("$a", 1<<20),
	}
	for name, src := range inputs {
		for _, d := range []Dialect{MySQL, Postgres} {
			if _, err := Parse(d, src); err != nil {
				t.Errorf("%s %v: %v", name, d, err)
			}
		}
	}
}
