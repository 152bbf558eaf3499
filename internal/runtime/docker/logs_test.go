package docker

import (
	"strings"
	"testing"
)

func TestLastLines(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"a\nb\nc\n", 2, "b\nc\n"},
		{"a\nb\nc\n", 1, "c\n"},
		{"a\nb\nc", 2, "b\nc"},
		{"a\nb\nc\n", 5, "a\nb\nc\n"},
		{"a\nb\nc\n", 0, ""},
		{"", 3, ""},
		{"\n\n", 1, "\n"},
	}
	for _, tt := range tests {
		if got := lastLines(tt.in, tt.n); got != tt.want {
			t.Errorf("lastLines(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestTailBufferKeepsNewest(t *testing.T) {
	var b tailBuffer
	line := strings.Repeat("x", 1000) + "\n"
	for range 3 * maxLogTail / len(line) {
		b.Write([]byte(line))
	}
	b.Write([]byte("last line\n"))
	s := b.String()
	if len(s) != maxLogTail || !strings.HasSuffix(s, "last line\n") {
		t.Errorf("len %d, suffix %q", len(s), s[len(s)-20:])
	}
}
