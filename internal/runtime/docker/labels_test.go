package docker

import (
	"regexp"
	"strings"
	"testing"
)

func TestContainerName(t *testing.T) {
	valid := regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)
	tests := []struct {
		service, version, id string
		want                 string
	}{
		{"web", "v2", "web-v2-1a2b3c", "cutover-web-v2-1a2b3c"},
		{"web", "1.4.0+build/7", "web-1.4.0+build/7-x9", "cutover-web-1.4.0_build_7-x9"},
		{"api", "v1", "some-other-id-format", "cutover-api-v1-" + shortID("api", "v1", "some-other-id-format")},
		{"web", strings.Repeat("v", 60), "id", "cutover-web-" + strings.Repeat("v", maxVersionInName) + "-" + shortID("web", strings.Repeat("v", 60), "id")},
	}
	for _, tt := range tests {
		got := containerName(tt.service, tt.version, tt.id)
		if got != tt.want {
			t.Errorf("containerName(%q, %q, %q) = %q, want %q", tt.service, tt.version, tt.id, got, tt.want)
		}
		if !valid.MatchString(got) {
			t.Errorf("containerName = %q: not a valid docker name", got)
		}
	}
}

func TestShortIDHashesUnusualIDs(t *testing.T) {
	a := shortID("web", "v1", "web-v1-this-suffix-is-long")
	b := shortID("web", "v1", "web-v1-this-suffix-is-longer")
	if a == b || len(a) != 12 {
		t.Errorf("shortID = %q and %q, want distinct 12-char hashes", a, b)
	}
	if got := shortID("web", "v1", "web-v1-a b"); got == "a b" || strings.Contains(got, " ") {
		t.Errorf("shortID kept an invalid suffix: %q", got)
	}
}
