package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Check loads the config file at path and validates it against the serving
// environment (os.LookupEnv, the file system, PATH): the one check that
// cutover serve, validate and reload share. A bad file yields Errors (which
// match ErrInvalid); an unreadable one a wrapped os error.
func Check(path string) (*Config, error) {
	c, err := Load(path)
	if err != nil {
		return nil, err
	}
	if err := c.Validate(os.LookupEnv); err != nil {
		return nil, err
	}
	return c, nil
}

// noServices reports a config without services, at the services key or the
// first line of the file.
func (v *validator) noServices() {
	const fix = "add one under services: (see examples/cutover.yaml)"
	if v.c.src != nil && v.c.src.bad[""] {
		return // the document is not a mapping; that error says enough
	}
	if v.c.src.has("services") || v.c.src == nil {
		v.add("services", fix, "no services")
		return
	}
	line := 0
	if v.c.Path != "" {
		line = 1
	}
	v.errs = append(v.errs, &Error{File: v.c.Path, Line: line, Path: "services", Msg: "no services", Fix: fix})
}

// serviceEnvironment checks what a service needs from the host: a process
// service's command and dir.
func (v *validator) serviceEnvironment(s *Service) {
	if s.Runtime != RuntimeProcess || s.Process == nil {
		return
	}
	p := "services." + s.Name + ".process"
	pr := s.Process
	dir := pr.Dir
	dirOK := true
	if dir != "" && !strings.Contains(dir, "{{") {
		fi, err := os.Stat(dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			v.add(p+".dir", "create the directory or correct the path", "directory %s does not exist", dir)
			dirOK = false
		case err != nil:
			v.add(p+".dir", "check the directory's permissions", "cannot read %s: %v", dir, err)
			dirOK = false
		case !fi.IsDir():
			v.add(p+".dir", "name a directory, not a file", "%s is not a directory", dir)
			dirOK = false
		}
	}
	cmd := strings.TrimSpace(pr.Command)
	if cmd == "" || strings.Contains(cmd, "{{") || strings.Contains(dir, "{{") {
		return
	}
	if !strings.Contains(cmd, "/") {
		if _, err := lookPath(cmd, pr.Env); err != nil {
			v.add(p+".command", fmt.Sprintf("install %s, or give its full path (e.g. /usr/local/bin/%s)", cmd, cmd),
				"program %q not found in PATH", cmd)
		}
		return
	}
	full := cmd
	if !filepath.IsAbs(full) && dir != "" {
		full = filepath.Join(dir, full)
	}
	if !dirOK {
		return
	}
	fi, err := os.Stat(full)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		fix := "correct the path"
		if !filepath.IsAbs(cmd) {
			fix = "correct the path (a relative command is resolved from process.dir, or the directory cutover runs in)"
		}
		v.add(p+".command", fix, "%s does not exist", full)
	case err != nil:
		v.add(p+".command", "check the file's permissions", "cannot read %s: %v", full, err)
	case fi.IsDir():
		v.add(p+".command", "name the program, not its directory", "%s is a directory", full)
	case fi.Mode().Perm()&0o111 == 0:
		v.add(p+".command", "make it executable: chmod +x "+full, "%s is not executable", full)
	}
}

// lookPath finds a bare command name as the instance would: in the PATH the
// service's env sets, else in cutover's own PATH.
func lookPath(name string, env map[string]string) (string, error) {
	path, ok := env["PATH"]
	if !ok || strings.Contains(path, "{{") {
		return exec.LookPath(name)
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		f := filepath.Join(dir, name)
		if fi, err := os.Stat(f); err == nil && !fi.IsDir() && fi.Mode().Perm()&0o111 != 0 {
			return f, nil
		}
	}
	return "", exec.ErrNotFound
}
