package docker

import (
	"os"
	"strings"
	"testing"
)

func TestOwnerLabel(t *testing.T) {
	host, _ := os.Hostname()
	a := OwnerLabel("/var/lib/cutover")
	if !strings.HasPrefix(a, host+"-") || len(a) != len(host)+9 {
		t.Errorf("OwnerLabel = %q, want %s-<8 hex>", a, host)
	}
	if b := OwnerLabel("/var/lib/cutover/"); b != a {
		t.Errorf("same directory gave %q and %q", a, b)
	}
	if c := OwnerLabel("/srv/other"); c == a {
		t.Errorf("different directories gave the same label %q", c)
	}
}
