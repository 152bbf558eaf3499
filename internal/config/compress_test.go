package config

import (
	"strings"
	"testing"
)

func TestCompressionConfig(t *testing.T) {
	for _, tc := range []struct {
		block   string
		on      bool
		minSize int64
		algos   []string
	}{
		{"compression: {}", true, DefaultCompressionMinSize, nil},
		{"compression: {enabled: false}", false, DefaultCompressionMinSize, nil},
		{"compression: {algorithms: [gzip, BR], min_size: 2KiB, types: [text/*, application/*+json]}", true, 2048, []string{"gzip", "BR"}},
		{"compression: {min_size: 0}", true, 0, nil},
		{"", false, 0, nil},
	} {
		y := "\nlisten: {http: \":80\"}\nservices:\n  web:\n    process: {command: sh}\n    ports: [1, 2]\n    " + tc.block + "\n"
		c, err := parse([]byte(y), "c.yaml", userEnv)
		if err != nil {
			t.Fatalf("%s: %v", tc.block, err)
		}
		cc := c.Services["web"].Compression
		if cc.On() != tc.on {
			t.Errorf("%q: On() = %v", tc.block, cc.On())
		}
		if cc == nil {
			continue
		}
		if cc.MinSize != tc.minSize || strings.Join(cc.Algorithms, ",") != strings.Join(tc.algos, ",") {
			t.Errorf("%q: min_size %d, algorithms %v", tc.block, cc.MinSize, cc.Algorithms)
		}
	}
}

func TestCompressionErrors(t *testing.T) {
	for _, tc := range []struct{ block, want string }{
		{"compression: {algorithms: [deflate]}", `services.web.compression.algorithms[0]: unknown algorithm "deflate"`},
		{"compression: {algorithms: [gzip, gzip]}", `services.web.compression.algorithms[1]: "gzip" listed twice`},
		{"compression: {min_size: 2MiB}", "services.web.compression.min_size: must be between 0 and 1 MiB"},
		{"compression: {min_size: -1}", "services.web.compression.min_size: must be between 0 and 1 MiB"},
		{"compression: {min_size: lots}", "services.web.compression.min_size"},
		{"compression: {types: [json]}", `services.web.compression.types[0]: "json" is not a media type pattern`},
		{"compression: {types: [text/ht*ml]}", `services.web.compression.types[0]: "text/ht*ml" is not a media type pattern`},
		{"compression: {level: 9}", "services.web.compression.level: unknown field"},
	} {
		y := "\nlisten: {http: \":80\"}\nservices:\n  web:\n    process: {command: sh}\n    ports: [1, 2]\n    " + tc.block + "\n"
		_, err := parse([]byte(y), "c.yaml", userEnv)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s:\n%v\nwant it to contain %q", tc.block, err, tc.want)
		}
	}
}
