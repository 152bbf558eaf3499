package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	var h *harness
	r := h.run(t, "version")
	if r.code != ExitOK || !strings.HasPrefix(r.stdout, "cutover ") || !strings.Contains(r.stdout, "go1.") {
		t.Fatalf("got %+v", r)
	}
}

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

func TestSampleAppFlagsPassThrough(t *testing.T) {
	var h *harness
	// Flags cutover does not know reach the sample app, which rejects them
	// itself on the process's standard error (cutover would say "unknown flag").
	stderr := os.Stderr
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	os.Stderr = f
	r := h.run(t, "sample-app", "--no-such-sample-flag")
	os.Stderr = stderr
	f.Close()
	sampleErr, _ := os.ReadFile(f.Name())
	if strings.Contains(r.stderr, "unknown flag") || r.code == ExitOK ||
		!strings.Contains(string(sampleErr), "no-such-sample-flag") {
		t.Fatalf("got %+v, sample app said %q", r, sampleErr)
	}
	if strings.Contains(h.run(t, "--help").stdout, "sample-app") {
		t.Error("sample-app is listed in help")
	}
}
