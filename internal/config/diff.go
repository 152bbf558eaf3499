package config

import (
	"reflect"
	"slices"
)

// Changes is what applying a new config to a running server would change.
// Service lists are in the new file's order (removed ones in the old
// file's); key lists are sorted field paths such as "listen.http".
type Changes struct {
	// Added lists services only the new config has.
	Added []string `json:"added,omitempty"`
	// Removed lists services only the old config has.
	Removed []string `json:"removed,omitempty"`
	// Changed lists services whose settings differ.
	Changed []string `json:"changed,omitempty"`
	// Applied lists changed keys outside services that a reload applies
	// (see ReloadableKeys).
	Applied []string `json:"applied,omitempty"`
	// Restart lists changed keys outside services that take effect only
	// when cutover serve restarts.
	Restart []string `json:"restart,omitempty"`
}

// Empty reports whether nothing changes.
func (ch Changes) Empty() bool {
	return len(ch.Added)+len(ch.Removed)+len(ch.Changed)+len(ch.Applied)+len(ch.Restart) == 0
}

// ReloadableKeys lists the keys outside services that a running server
// applies on reload: new listeners are opened before the old ones close, and
// the TLS certificate and key are re-read. Every other key outside services
// (the other listen settings, admin, state_dir, trusted_proxies,
// access_log) needs a restart.
var ReloadableKeys = []string{"listen.http", "listen.https", "listen.tls.cert", "listen.tls.key"}

// Diff compares the config a server runs (old) with a new one.
func Diff(old, next *Config) Changes {
	var ch Changes
	for _, name := range next.serviceNames() {
		o, ok := old.Services[name]
		switch {
		case !ok:
			ch.Added = append(ch.Added, name)
		case !sameService(o, next.Services[name]):
			ch.Changed = append(ch.Changed, name)
		}
	}
	for _, name := range old.serviceNames() {
		if _, ok := next.Services[name]; !ok {
			ch.Removed = append(ch.Removed, name)
		}
	}
	var keys []string
	diffFields("", reflect.ValueOf(*old), reflect.ValueOf(*next), &keys)
	for _, k := range keys {
		if slices.Contains(ReloadableKeys, k) {
			ch.Applied = append(ch.Applied, k)
		} else {
			ch.Restart = append(ch.Restart, k)
		}
	}
	return ch
}

// sameService reports whether a and b have the same settings (their place
// in the file aside).
func sameService(a, b *Service) bool {
	x, y := *a, *b
	x.Line, y.Line = 0, 0
	return reflect.DeepEqual(x, y)
}

// diffFields appends the paths of the leaf fields that differ between the
// structs a and b, skipping services (compared by Diff) and fields not in
// the file.
func diffFields(prefix string, a, b reflect.Value, out *[]string) {
	for _, f := range yamlFields(a.Type()) {
		path := joinPath(prefix, f.name)
		if path == "services" {
			continue
		}
		fa, fb := a.Field(f.index), b.Field(f.index)
		if fa.Kind() == reflect.Struct && fa.Type() != durationType {
			diffFields(path, fa, fb, out)
			continue
		}
		if !reflect.DeepEqual(fa.Interface(), fb.Interface()) {
			*out = append(*out, path)
		}
	}
}

// Effective returns the config in effect after a server running with
// running reloads next: the services and ReloadableKeys of next, every
// other key of running (those wait for a restart). Neither argument is
// modified; the result shares their maps and slices.
func Effective(running, next *Config) *Config {
	out := *next
	keepFields("", reflect.ValueOf(&out).Elem(), reflect.ValueOf(*running))
	return &out
}

// keepFields sets the leaf fields of dst that a reload does not apply to
// their values in src.
func keepFields(prefix string, dst, src reflect.Value) {
	for _, f := range yamlFields(dst.Type()) {
		path := joinPath(prefix, f.name)
		if path == "services" || slices.Contains(ReloadableKeys, path) {
			continue
		}
		fd, fs := dst.Field(f.index), src.Field(f.index)
		if fd.Kind() == reflect.Struct && fd.Type() != durationType {
			keepFields(path, fd, fs)
			continue
		}
		fd.Set(fs)
	}
}
