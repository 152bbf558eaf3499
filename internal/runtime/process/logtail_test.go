package process

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cutover-dev/cutover/internal/runtime"
)

func TestTailLines(t *testing.T) {
	tests := []struct {
		name  string
		data  string
		n     int
		limit int64
		want  string
	}{
		{"last two", "a\nb\nc\n", 2, 100, "b\nc\n"},
		{"no trailing newline", "a\nb\nc", 2, 100, "b\nc"},
		{"more than there are", "a\nb\n", 5, 100, "a\nb\n"},
		{"exact", "a\nb\n", 2, 100, "a\nb\n"},
		{"one", "a\nb\n", 1, 100, "b\n"},
		{"empty", "", 3, 100, ""},
		{"blank lines", "a\n\n\n", 2, 100, "\n\n"},
		{"limit at a line start", "first line\nsecond\nthird\n", 10, 13, "second\nthird\n"},
		{"limit after a newline", "first line\nsecond\nthird\n", 10, 14, "second\nthird\n"},
		{"limit drops partial line", "first line\nsecond\nthird\n", 10, 12, "third\n"},
		{"long lines across chunks", strings.Repeat("x", 10) + "\n" + strings.Repeat("y", 10) + "\n", 1, 100, strings.Repeat("y", 10) + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := strings.NewReader(tt.data)
			got, err := tailLines(r, int64(len(tt.data)), tt.n, tt.limit, 3)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("tailLines = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLogTail(t *testing.T) {
	r := newRuntime(t, Options{})
	path := filepath.Join(t.TempDir(), "x.log")
	var b strings.Builder
	for i := range 5000 {
		b.WriteString(strings.Repeat("z", i%50) + "\n")
	}
	b.WriteString("before last\nlast\n")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	inst := runtime.Instance{ID: "x", LogPath: path}
	got, err := r.LogTail(context.Background(), inst, 2)
	if err != nil || got != "before last\nlast\n" {
		t.Fatalf("LogTail = %q, %v", got, err)
	}
	if got, err := r.LogTail(context.Background(), runtime.Instance{ID: "x"}, 2); got != "" || err != nil {
		t.Fatalf("LogTail without a log = %q, %v", got, err)
	}
	inst.LogPath += ".missing"
	if _, err := r.LogTail(context.Background(), inst, 2); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("LogTail of a missing file: %v, want ErrNotFound", err)
	}
}
