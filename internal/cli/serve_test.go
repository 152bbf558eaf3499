package cli

import (
	"bytes"
	"strings"
	"testing"
)

func TestNewLogger(t *testing.T) {
	var buf bytes.Buffer
	l, err := newLogger(&buf, "json", "warn")
	if err != nil {
		t.Fatal(err)
	}
	l.Info("hidden")
	l.Warn("shown", "k", 1)
	if out := buf.String(); strings.Contains(out, "hidden") || !strings.Contains(out, `"msg":"shown"`) {
		t.Fatalf("log output %q", out)
	}
	if _, err := newLogger(&buf, "xml", "info"); err == nil || exitCodeOf(err) == ExitOK {
		t.Error("xml accepted")
	}
	if _, err := newLogger(&buf, "text", "loud"); err == nil {
		t.Error("level loud accepted")
	}
}

func TestServeNeedsConfig(t *testing.T) {
	var h *harness
	r := h.run(t, "serve")
	if r.code != ExitUsage || !strings.Contains(r.stderr, "pass -c FILE") {
		t.Fatalf("got %+v", r)
	}
	r = h.run(t, "serve", "-c", "x.yaml", "--log-level", "loud")
	if r.code != ExitUsage || !strings.Contains(r.stderr, "--log-level") {
		t.Fatalf("got %+v", r)
	}
}
