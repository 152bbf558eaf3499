package cli

import (
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
