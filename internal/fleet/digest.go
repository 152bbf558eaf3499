package fleet

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"slices"
	"strings"

	"github.com/cutover-dev/cutover/internal/config"
)

// ServiceDigest returns a digest of everything in a service's config that
// must be the same on every host, and the digest of each top-level field by
// its YAML name, so a host whose config differs can say which fields do.
// The ports instances may use (ports, port_range) are each host's own and
// are left out.
func ServiceDigest(sc *config.Service) (string, map[string]string) {
	fields := map[string]string{}
	v := reflect.ValueOf(*sc)
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !f.IsExported() || hostLocal[name] {
			continue
		}
		b, err := json.Marshal(v.Field(i).Interface())
		if err != nil {
			b = []byte(err.Error())
		}
		sum := sha256.Sum256(b)
		fields[name] = hex.EncodeToString(sum[:8])
	}
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	slices.Sort(names)
	h := sha256.New()
	for _, n := range names {
		h.Write([]byte(n + "=" + fields[n] + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil)[:12]), fields
}

// hostLocal names the service fields each host may set for itself.
var hostLocal = map[string]bool{"ports": true, "port_range": true}

// differingFields names the fields whose digests differ, sorted.
func differingFields(a, b map[string]string) []string {
	var out []string
	for k, v := range a {
		if b[k] != v {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
