package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// Files serves a directory under a path prefix of a service.
type Files struct {
	// Path is the request path prefix, ending in "/" (e.g. /assets/),
	// under the service's path_prefix and before strip_prefix.
	Path string `yaml:"path"`
	// Root is the directory, a template with {{.Version}} and
	// {{.Service}}: with {{.Version}} each version serves its own files,
	// and the previous version's stay reachable during the standby window.
	Root string `yaml:"root"`
	// Index is the file served for a directory (default index.html; ""
	// for none).
	Index string `yaml:"index"`
	// SPA serves Path + Index for paths that name no file (the
	// client-side routes of a single-page app).
	SPA bool `yaml:"spa"`
	// Cache sets Cache-Control by the first matching rule.
	Cache []CacheRule `yaml:"cache"`
}

// CacheRule sets Cache-Control for files matching a pattern: on the file
// name ("*.js") or, with a "/", on the path below Files.Path
// ("assets/*.js"), as path.Match does.
type CacheRule struct {
	Match string `yaml:"match"`
	Value string `yaml:"value"`
}

// DefaultIndex is the index file of a files block unless set.
const DefaultIndex = "index.html"

func (f *Files) applyDefaults(unset unsetFunc, prefix string) {
	if unset(prefix+".index", f.Index == "") {
		f.Index = DefaultIndex
	}
}

func (v *validator) files(s *Service, p string) {
	for i := range s.Files {
		f := &s.Files[i]
		fp := fmt.Sprintf("%s.files[%d]", p, i)
		switch {
		case !strings.HasPrefix(f.Path, "/") || !strings.HasSuffix(f.Path, "/"):
			v.add(fp+".path", `write a path that starts and ends with "/", e.g. /assets/ or /`, "%q", f.Path)
		case path.Clean(f.Path) != strings.TrimSuffix(f.Path, "/") && f.Path != "/":
			v.add(fp+".path", "remove empty, . and .. segments", "%q is not a clean path", f.Path)
		case !underPrefix(f.Path, s.PathPrefix):
			v.add(fp+".path", fmt.Sprintf("use a path under the service's path_prefix %s", s.PathPrefix), "%q is not under %s: no request for it reaches this service", f.Path, s.PathPrefix)
		}
		for j := range i {
			if s.Files[j].Path == f.Path {
				v.add(fp+".path", "merge the two blocks or use another path", "%q is served by files[%d] already", f.Path, j)
			}
		}
		switch {
		case f.Root == "":
			v.add(fp+".root", "name the directory, e.g. /srv/shop/{{.Version}}/public", "missing")
		case strings.Contains(f.Root, "{{"):
			if msg := checkTemplate(f.Root); msg != "" {
				v.add(fp+".root", "use {{.Version}} or {{.Service}}", "bad template: %s", msg)
			} else if strings.Contains(f.Root, ".Port") || strings.Contains(f.Root, ".Instance") {
				v.add(fp+".root", "use {{.Version}} or {{.Service}}: files belong to a version, not to an instance", "%q", f.Root)
			}
		case !filepath.IsAbs(f.Root):
			v.add(fp+".root", "use an absolute path, or one relative to the config file", "%q is not absolute", f.Root)
		}
		if strings.Contains(f.Index, "/") || strings.HasPrefix(f.Index, ".") {
			v.add(fp+".index", "name a file in the directory, e.g. index.html", "%q", f.Index)
		}
		if f.SPA && f.Index == "" {
			v.add(fp+".spa", "set index (e.g. index.html): a single-page app is served its index", "spa without an index")
		}
		for j, c := range f.Cache {
			cp := fmt.Sprintf("%s.cache[%d]", fp, j)
			if _, err := path.Match(c.Match, ""); err != nil || c.Match == "" {
				v.add(cp+".match", `write a pattern such as "*.js" or "assets/*.css"`, "%q is not a pattern", c.Match)
			}
			if c.Value == "" || !httpguts.ValidHeaderFieldValue(c.Value) {
				v.add(cp+".value", `write a Cache-Control value such as "public, max-age=31536000, immutable"`, "%q", c.Value)
			}
		}
	}
}

// underPrefix reports whether the files path p lies under a service's
// path_prefix.
func underPrefix(p, prefix string) bool {
	if prefix == "" || prefix == "/" {
		return true
	}
	return strings.HasPrefix(p, strings.TrimSuffix(prefix, "/")+"/")
}

// filesEnvironment checks that the directories of files blocks without a
// template exist (a templated one is checked when a version is deployed).
func (v *validator) filesEnvironment(s *Service) {
	for i, f := range s.Files {
		if f.Root == "" || strings.Contains(f.Root, "{{") || !filepath.IsAbs(f.Root) {
			continue
		}
		fp := fmt.Sprintf("services.%s.files[%d].root", s.Name, i)
		fi, err := os.Stat(f.Root)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			v.add(fp, "create the directory or correct the path", "directory %s does not exist", f.Root)
		case err != nil:
			v.add(fp, "check the directory's permissions", "cannot read %s: %v", f.Root, err)
		case !fi.IsDir():
			v.add(fp, "name a directory, not a file", "%s is not a directory", f.Root)
		}
	}
}
