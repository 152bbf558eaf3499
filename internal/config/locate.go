package config

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Locations are where a config file puts the server's state and admin
// socket, read leniently by ReadLocations.
type Locations struct {
	// StateDir is state_dir, or its default.
	StateDir string
	// Socket is admin.socket as given ("" when the file does not set it).
	Socket string
}

var (
	stateDirLine = regexp.MustCompile(`(?m)^state_dir:[ \t]*["']?([^"'#\n]*?)["']?[ \t]*(#.*)?$`)
	socketLine   = regexp.MustCompile(`(?m)^admin:[ \t]*\n(?:[ \t]+.*\n)*?[ \t]+socket:[ \t]*["']?([^"'#\n]*?)["']?[ \t]*(#.*)?$`)
)

// ReadLocations reads only state_dir and admin.socket from the config file
// at path, ignoring every other key and every problem elsewhere in the file
// (so the command line can reach a running server whose config file has
// since been broken). It falls back to matching the two keys line by line
// when the file is not valid YAML. Relative paths are resolved against the
// file's directory, as Load does. Only an unreadable file is an error.
func ReadLocations(path string) (Locations, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Locations{}, fmt.Errorf("read config: %w", err)
	}
	var doc struct {
		StateDir any `yaml:"state_dir"`
		Admin    any `yaml:"admin"`
	}
	var loc Locations
	if yaml.Unmarshal(data, &doc) == nil {
		loc.StateDir, _ = doc.StateDir.(string)
		if admin, ok := doc.Admin.(map[string]any); ok {
			loc.Socket, _ = admin["socket"].(string)
		}
	} else {
		if m := stateDirLine.FindSubmatch(data); m != nil {
			loc.StateDir = string(m[1])
		}
		if m := socketLine.FindSubmatch(data); m != nil {
			loc.Socket = string(m[1])
		}
	}
	dir := filepath.Dir(path)
	abs := func(p string) string {
		p = strings.TrimSpace(p)
		if p != "" && !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		return p
	}
	loc.StateDir, loc.Socket = abs(loc.StateDir), abs(loc.Socket)
	if loc.StateDir == "" {
		loc.StateDir = osEnvironment().defaultStateDir()
	}
	return loc, nil
}
