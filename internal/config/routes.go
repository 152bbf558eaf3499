package config

import (
	"fmt"
	"strings"
)

// routeKey is the normalized host pattern and path prefix a service serves.
func routeKey(host, prefix string) string {
	if prefix != "/" {
		prefix = strings.TrimSuffix(prefix, "/")
	}
	return strings.ToLower(host) + prefix
}

// routes reports two services that claim the same host and path prefix.
func (v *validator) routes() {
	owner := map[string]string{}
	for _, name := range v.c.serviceNames() {
		s := v.c.Services[name]
		for i, h := range s.Hosts {
			key := routeKey(h, s.PathPrefix)
			other, taken := owner[key]
			if !taken {
				owner[key] = name
				continue
			}
			if other == name {
				continue
			}
			path := fmt.Sprintf("services.%s.hosts[%d]", name, i)
			if !v.c.src.has(path) {
				path = "services." + name + ".path_prefix"
			}
			v.add(path, "give one of them different hosts or a different path_prefix",
				"host %q with path_prefix %q is already routed to service %q%s",
				h, s.PathPrefix, other, v.at("services."+other))
		}
	}
}
