package config

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReadLocationsOfBrokenFiles(t *testing.T) {
	dir := t.TempDir()
	for name, tt := range map[string]struct{ text, state, socket string }{
		"invalid config": {"state_dir: st\nadmin:\n  socket: /run/a.sock\nservices:\n  web: {drian: 1}\n", filepath.Join(dir, "st"), "/run/a.sock"},
		"not yaml":       {"state_dir: \"/srv/st\"\nadmin:\n  tcp: x\n  socket: run/a.sock # here\nservices: [\n", "/srv/st", filepath.Join(dir, "run/a.sock")},
		"wrong kinds":    {"state_dir: [1]\nadmin: 5\n", osEnvironment().defaultStateDir(), ""},
	} {
		path := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(path, []byte(tt.text), 0o600); err != nil {
			t.Fatal(err)
		}
		loc, err := ReadLocations(path)
		if err != nil || loc.StateDir != tt.state || loc.Socket != tt.socket {
			t.Errorf("%s: ReadLocations = %+v, %v; want state %q socket %q", name, loc, err, tt.state, tt.socket)
		}
	}
	if _, err := ReadLocations(filepath.Join(dir, "missing.yaml")); !os.IsNotExist(unwrapAll(err)) {
		t.Errorf("missing file: %v", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}
