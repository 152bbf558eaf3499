package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads, parses and validates the config file at path; see Parse.
// An unreadable file is reported as a wrapped os error, not as Errors.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(data, path)
}

// Parse reads a cutover.yaml document strictly, applies defaults and
// validates the result. path names the file in errors; relative file paths
// in the config (state_dir, admin.socket, admin.token_file, listen.tls.cert,
// listen.tls.key, docker env_files) are resolved against path's directory.
//
// On any problem Parse returns a nil Config and an Errors value listing every
// problem found, each naming the file, line, field path and fix. Unknown
// keys are errors, except top-level keys starting with "x-", which are
// ignored so that they can hold YAML anchors for merge keys ("<<: *common").
// A key given as null counts as absent; an explicit zero is
// kept and validated (so "standby: 0" retires the old version at once).
// Hosts are lowercased. Checks that depend on the serving environment are
// left to Validate.
func Parse(data []byte, path string) (*Config, error) {
	return parse(data, path, osEnvironment())
}

func parse(data []byte, path string, env environment) (*Config, error) {
	c := &Config{Path: path}
	d := &decoder{file: path, src: newSource()}
	root, err := readDocument(data, path)
	if err != nil {
		return nil, err
	}
	if root != nil {
		d.decode(root, reflect.ValueOf(c).Elem(), "")
	}
	c.src = d.src
	d.nameServices(c)
	c.resolvePaths(filepath.Dir(path))
	c.applyDefaults(env)
	errs := d.errs
	for _, e := range c.validate(nil) {
		if !d.src.badNear(e.Path) {
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		errs.sortByLine()
		return nil, errs
	}
	c.normalize()
	return c, nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// readDocument parses data into one YAML document's root node (nil for an
// empty document).
func readDocument(data []byte, path string) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, Errors{syntaxError(err, path)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, Errors{{File: path, Line: extra.Line, Msg: "more than one YAML document",
			Fix: "keep one document per file (remove the '---' separator)"}}
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	root := resolveAlias(doc.Content[0])
	if isNull(root) {
		return nil, nil
	}
	return root, nil
}

// syntaxError turns a YAML parser error into an Error with its line.
func syntaxError(err error, path string) *Error {
	e := &Error{File: path, Msg: "invalid YAML: " + err.Error(),
		Fix: "check indentation and quoting around this line"}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = "invalid YAML: " + m[2]
	}
	return e
}

// nameServices sets each service's Name and Line, fills ServiceOrder in file
// order and reports services with no body.
func (d *decoder) nameServices(c *Config) {
	for _, name := range d.src.order["services"] {
		path := "services." + name
		s := c.Services[name]
		pos := d.src.keys[path]
		if s == nil {
			d.errs = append(d.errs, &Error{File: d.file, Line: pos.line, Column: pos.col, Path: path,
				Msg: "service has no settings", Fix: "add at least a runtime block, e.g. process: {command: ...}"})
			d.src.bad[path] = true
			delete(c.Services, name)
			continue
		}
		s.Name, s.Line = name, pos.line
		c.ServiceOrder = append(c.ServiceOrder, name)
	}
}

// resolvePaths makes relative file paths relative to dir.
func (c *Config) resolvePaths(dir string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	abs(&c.StateDir)
	abs(&c.Admin.Socket)
	abs(&c.Admin.TokenFile)
	abs(&c.Listen.TLS.Cert)
	abs(&c.Listen.TLS.Key)
	if c.Listen.ACME != nil {
		abs(&c.Listen.ACME.CARoot)
	}
	for _, s := range c.Services {
		if s == nil {
			continue
		}
		for i := range s.Files {
			if !strings.HasPrefix(s.Files[i].Root, "{{") {
				abs(&s.Files[i].Root)
			}
		}
	}
	abs(&c.Cluster.TLS.CA)
	abs(&c.Cluster.TLS.Cert)
	abs(&c.Cluster.TLS.Key)
	abs(&c.Cluster.PasswordFile)
	abs(&c.Cluster.PeerTLS.CA)
	abs(&c.Cluster.PeerTLS.Cert)
	abs(&c.Cluster.PeerTLS.Key)
	for _, s := range c.Services {
		if s != nil && s.Docker != nil {
			for i := range s.Docker.EnvFiles {
				abs(&s.Docker.EnvFiles[i])
			}
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
