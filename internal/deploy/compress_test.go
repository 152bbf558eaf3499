package deploy

import (
	"testing"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/store"
)

func TestRouteSpecCompression(t *testing.T) {
	off := false
	for _, tc := range []struct {
		name    string
		c       *config.Compression
		on      bool
		minSize int64
	}{
		{"no block", nil, false, 0},
		{"turned off", &config.Compression{Enabled: &off, MinSize: 1024}, false, 0},
		{"defaults", &config.Compression{MinSize: 1024}, true, 1024},
		{"every body", &config.Compression{MinSize: 0}, true, 1},
	} {
		sc := &config.Service{Name: "web", Compression: tc.c}
		spec := routeSpec(sc, store.ServiceState{})
		if (spec.Compression != nil) != tc.on {
			t.Errorf("%s: compression %+v, want on=%v", tc.name, spec.Compression, tc.on)
			continue
		}
		if tc.on && spec.Compression.MinSize != tc.minSize {
			t.Errorf("%s: min size %d, want %d", tc.name, spec.Compression.MinSize, tc.minSize)
		}
	}
	sc := &config.Service{Name: "web", Compression: &config.Compression{Algorithms: []string{"gzip"}, Types: []string{"text/*"}, MinSize: 10}}
	c := routeSpec(sc, store.ServiceState{}).Compression
	if len(c.Encodings) != 1 || c.Encodings[0] != "gzip" || len(c.ContentTypes) != 1 || c.ContentTypes[0] != "text/*" {
		t.Errorf("mapped %+v", c)
	}
}
