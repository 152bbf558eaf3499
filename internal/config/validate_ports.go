package config

import (
	"fmt"
	"strconv"
	"strings"
)

// parsePortRange reads "FROM-TO".
func parsePortRange(s string) (from, to int, err error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return 0, 0, fmt.Errorf("%q is not a range FROM-TO", s)
	}
	from, err1 := strconv.Atoi(strings.TrimSpace(a))
	to, err2 := strconv.Atoi(strings.TrimSpace(b))
	switch {
	case err1 != nil || err2 != nil:
		return 0, 0, fmt.Errorf("%q is not a range FROM-TO", s)
	case from < 1 || to > 65535:
		return 0, 0, fmt.Errorf("%q goes outside 1-65535", s)
	case from > to:
		return 0, 0, fmt.Errorf("%q starts above where it ends", s)
	}
	return from, to, nil
}

// needsPorts reports whether s's instances need a port from its pool.
func (s *Service) needsPorts() bool {
	switch s.Runtime {
	case RuntimeProcess, RuntimeDocker:
		return true
	case RuntimeStatic:
		return s.Static != nil && strings.Contains(s.Static.Address, ".Port")
	}
	return false
}

// ports checks ports and port_range.
func (v *validator) ports(s *Service, p string) {
	if len(s.Ports) > 0 && s.PortRange != "" {
		v.add(p+".port_range", "keep either ports or port_range", "ports and port_range are both set")
		return
	}
	seen := map[int]int{}
	for i, port := range s.Ports {
		pp := fmt.Sprintf("%s.ports[%d]", p, i)
		if port < 1 || port > 65535 {
			v.add(pp, "use a port from 1 to 65535", "port %d is out of range", port)
			continue
		}
		if j, dup := seen[port]; dup {
			v.add(pp, "list each port once", "port %d is listed twice (also ports[%d])", port, j)
		}
		seen[port] = i
	}
	if s.PortRange != "" {
		if _, _, err := parsePortRange(s.PortRange); err != nil {
			v.add(p+".port_range", `write FROM-TO, e.g. "9000-9009"`, "%v", err)
			return
		}
	}
	if len(s.Ports) == 0 && s.PortRange == "" && s.needsPorts() {
		v.add(p, "list the ports instances may use, e.g. ports: [8080, 8081]", "no ports or port_range")
	}
}

// portCount checks that the pool has room for the instances that run at
// once during a deploy with the configured strategy.
func (v *validator) portCount(s *Service, p string) {
	pool := s.PortPool()
	if len(pool) == 0 || !s.needsPorts() || s.Replicas < 1 {
		return
	}
	need, why := 2*s.Replicas, fmt.Sprintf("the %s strategy runs the new version beside the old one (2 × %s)",
		s.Strategy, plural(s.Replicas, "replica"))
	if s.Strategy == StrategyRolling {
		need = s.Replicas + max(s.Rolling.MaxSurge, 0)
		why = fmt.Sprintf("the rolling strategy runs replicas + max_surge = %d + %d instances at once",
			s.Replicas, s.Rolling.MaxSurge)
	}
	if len(pool) >= need {
		return
	}
	path, fix := p+".ports", fmt.Sprintf("list at least %d ports, e.g. %s", need, examplePorts(pool[0], need))
	if s.PortRange != "" {
		path, fix = p+".port_range", fmt.Sprintf("widen it to at least %d ports, e.g. \"%d-%d\"", need, pool[0], pool[0]+need-1)
	}
	v.add(path, fix, "%s for %s: %s", plural(len(pool), "port"), plural(need, "instance"), why)
}

func examplePorts(first, n int) string {
	ports := make([]string, n)
	for i := range ports {
		ports[i] = strconv.Itoa(first + i)
	}
	return "[" + strings.Join(ports, ", ") + "]"
}

// portConflicts reports a port used by two services, or by a service and a listener.
func (v *validator) portConflicts() {
	type owner struct{ what, path string }
	used := map[int]owner{}
	for _, l := range []struct{ path, addr string }{
		{"listen.http", v.c.Listen.HTTP}, {"listen.https", v.c.Listen.HTTPS}, {"admin.tcp", v.c.Admin.TCP}, {"metrics.listen", v.c.Metrics.Listen},
	} {
		if port, err := addrPort(l.addr); err == nil && port != 0 {
			used[port] = owner{l.path, l.path}
		}
	}
	for _, name := range v.c.serviceNames() {
		s := v.c.Services[name]
		if s.Runtime == RuntimeStatic {
			continue
		}
		p := "services." + name
		path := p + ".ports"
		if s.PortRange != "" {
			path = p + ".port_range"
		}
		for _, port := range s.PortPool() {
			if o, taken := used[port]; taken {
				v.add(path, "give each service and listener its own ports",
					"port %d is also used by %s%s", port, o.what, v.at(o.path))
				break
			}
		}
		for _, port := range s.PortPool() {
			if _, taken := used[port]; !taken {
				used[port] = owner{"service " + name, path}
			}
		}
	}
}

// plural formats n with noun, adding "s" unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
