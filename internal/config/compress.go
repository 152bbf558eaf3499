package config

import (
	"fmt"
	"strings"
)

// Compression compresses a service's responses for clients that accept it
// (see the README's "Compression"). Giving the block turns it on.
type Compression struct {
	// Enabled turns compression off when false (default true).
	Enabled *bool `yaml:"enabled"`
	// Algorithms lists the codings offered, in order of preference when
	// the client weighs several alike: zstd, br and gzip (default all
	// three, in that order).
	Algorithms []string `yaml:"algorithms"`
	// MinSize is the smallest body compressed (default 1 KiB; 0
	// compresses every body; at most 1 MiB). It takes units like
	// max_body_bytes.
	MinSize int64 `yaml:"min_size" unit:"bytes"`
	// Types lists the media types compressed: type/subtype, type/* or
	// type/*+suffix (default: text/*, JSON, JavaScript, XML, SVG,
	// WebAssembly and uncompressed fonts).
	Types []string `yaml:"types"`
}

// Compression defaults and bounds.
const (
	DefaultCompressionMinSize = 1 << 10
	MaxCompressionMinSize     = 1 << 20
)

// CompressionAlgorithms are the codings compression.algorithms may list.
var CompressionAlgorithms = []string{"zstd", "br", "gzip"}

// On reports whether c is given and not turned off.
func (c *Compression) On() bool { return c != nil && (c.Enabled == nil || *c.Enabled) }

func (c *Compression) applyDefaults(unset unsetFunc, prefix string) {
	if c == nil {
		return
	}
	if c.Enabled == nil {
		on := true
		c.Enabled = &on
	}
	if unset(prefix+".min_size", c.MinSize == 0) {
		c.MinSize = DefaultCompressionMinSize
	}
}

func (v *validator) compression(c *Compression, p string) {
	if c == nil {
		return
	}
	seen := map[string]bool{}
	for i, a := range c.Algorithms {
		ap := fmt.Sprintf("%s.algorithms[%d]", p, i)
		switch {
		case !oneOfFold(a, CompressionAlgorithms):
			v.add(ap, "use zstd, br or gzip", "unknown algorithm %q", a)
		case seen[strings.ToLower(a)]:
			v.add(ap, "remove the second one", "%q listed twice", a)
		}
		seen[strings.ToLower(a)] = true
	}
	if c.MinSize < 0 || c.MinSize > MaxCompressionMinSize {
		v.add(p+".min_size", "use a size from 0 to 1MiB, e.g. 1KiB", "must be between 0 and 1 MiB, got %d", c.MinSize)
	}
	for i, t := range c.Types {
		if !validMediaPattern(t) {
			v.add(fmt.Sprintf("%s.types[%d]", p, i), "write a media type such as application/json, text/* or application/*+json",
				"%q is not a media type pattern", t)
		}
	}
}

func oneOfFold(s string, allowed []string) bool {
	for _, a := range allowed {
		if strings.EqualFold(s, a) {
			return true
		}
	}
	return false
}

// validMediaPattern reports whether s is type/subtype, type/* or
// type/*+suffix.
func validMediaPattern(s string) bool {
	main, sub, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok || main == "" || sub == "" || strings.ContainsAny(main, "*;, /") || strings.ContainsAny(sub, ";, /") {
		return false
	}
	if suffix, ok := strings.CutPrefix(sub, "*+"); ok {
		return suffix != "" && !strings.Contains(suffix, "*")
	}
	return sub == "*" || !strings.Contains(sub, "*")
}
