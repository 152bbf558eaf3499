package config

import "testing"

func TestSuggest(t *testing.T) {
	fields := []string{"command", "args", "dir", "env", "log_max_bytes", "drain_timeout", "health"}
	tests := map[string]string{
		"comand":        "command",
		"cmomand":       "command",
		"drain-timeout": "drain_timeout",
		"Drain_Timout":  "drain_timeout",
		"helth":         "health",
		"arg":           "args",
		"frobnicate":    "",
		"x":             "",
	}
	for word, want := range tests {
		if got := suggest(word, fields); got != want {
			t.Errorf("suggest(%q) = %q, want %q", word, got, want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "", 3}, {"", "ab", 2}, {"kitten", "sitting", 3}, {"ab", "ba", 1}, {"same", "same", 0},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
