package zapslog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func TestLogger(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	zl := Logger(log, Options{Component: "lib", Prefix: "lib: ", Level: zapcore.InfoLevel, Quiet: []string{"noise"}})
	zl.Debug("dropped below the level")
	zl.Info("noise")
	zl.With(zap.String("z", "last"), zap.Int("a", 1)).Warn("careful", zap.String("m", "mid"))
	zl.Error("broken")
	out := buf.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines (debug and quiet dropped), got:\n%s", out)
	}
	if want := `level=WARN msg="lib: careful" component=lib a=1 m=mid z=last`; !strings.Contains(lines[0], want) {
		t.Errorf("line %q, want it to contain %q (prefix, component, sorted fields)", lines[0], want)
	}
	if !strings.Contains(lines[1], `level=ERROR msg="lib: broken"`) {
		t.Errorf("line %q", lines[1])
	}
}
