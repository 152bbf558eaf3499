package proxy

import (
	"fmt"
	"slices"
	"strings"
)

// table is one immutable routing table. Requests load it once and use that
// snapshot throughout.
type table struct {
	exact    map[string]routeList
	wildcard []wildcardRoutes // longest suffix first
	any      routeList
	services map[string]*service
	// specs holds the normalised specs in the order they were given.
	specs []ServiceSpec
}

// route maps a path prefix to a service.
type route struct {
	prefix string
	svc    *service
}

// routeList is sorted by descending prefix length, so the first match is the
// longest prefix.
type routeList []route

func (rl routeList) match(path string) *service {
	for i := range rl {
		if hasPathPrefix(path, rl[i].prefix) {
			return rl[i].svc
		}
	}
	return nil
}

// wildcardRoutes holds the routes of one "*.name" pattern; suffix is ".name".
type wildcardRoutes struct {
	suffix string
	routes routeList
}

// emptyTable is the table before the first Apply.
var emptyTable = &table{exact: map[string]routeList{}, services: map[string]*service{}}

// lookup returns the service for host and path, or nil. The most specific
// host pattern (exact, then the longest wildcard, then "*") with a matching
// path prefix wins; within a host pattern the longest prefix wins.
func (t *table) lookup(host, path string) *service {
	host = lowerHost(hostOnly(host))
	if n := len(host); n > 1 && host[n-1] == '.' {
		host = host[:n-1] // fully qualified form
	}
	if rl, ok := t.exact[host]; ok {
		if s := rl.match(path); s != nil {
			return s
		}
	}
	for i := range t.wildcard {
		w := &t.wildcard[i]
		if len(host) > len(w.suffix) && strings.HasSuffix(host, w.suffix) {
			if s := w.routes.match(path); s != nil {
				return s
			}
		}
	}
	return t.any.match(path)
}

// newTable indexes services, which are already validated and built. It
// fails on two services claiming the same host and prefix.
func newTable(specs []ServiceSpec, services []*service) (*table, error) {
	t := &table{
		exact:    make(map[string]routeList),
		services: make(map[string]*service, len(services)),
		specs:    specs,
	}
	wild := make(map[string]routeList)
	for _, s := range services {
		t.services[s.name] = s
		for _, h := range s.spec.Hosts {
			var rl routeList
			switch {
			case h == "*":
				rl = t.any
			case strings.HasPrefix(h, "*."):
				rl = wild[h[1:]]
			default:
				rl = t.exact[h]
			}
			for _, other := range rl {
				if other.prefix == s.matchPrefix {
					return nil, fmt.Errorf("%w: services %q and %q both route host %q path %q",
						ErrRouteConflict, other.svc.name, s.name, h, other.prefix)
				}
			}
			rl = append(rl, route{prefix: s.matchPrefix, svc: s})
			sortRoutes(rl)
			switch {
			case h == "*":
				t.any = rl
			case strings.HasPrefix(h, "*."):
				wild[h[1:]] = rl
			default:
				t.exact[h] = rl
			}
		}
	}
	for suffix, rl := range wild {
		t.wildcard = append(t.wildcard, wildcardRoutes{suffix: suffix, routes: rl})
	}
	slices.SortFunc(t.wildcard, func(a, b wildcardRoutes) int {
		if d := len(b.suffix) - len(a.suffix); d != 0 {
			return d
		}
		return strings.Compare(a.suffix, b.suffix)
	})
	return t, nil
}

// sortRoutes orders rl by descending prefix length.
func sortRoutes(rl routeList) {
	slices.SortStableFunc(rl, func(a, b route) int { return len(b.prefix) - len(a.prefix) })
}
