package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

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
