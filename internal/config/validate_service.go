package config

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strings"
)

var serviceName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// service checks one service; p is its field path.
func (v *validator) service(s *Service) {
	p := "services." + s.Name
	f := func(field string) string { return p + "." + field }
	if !serviceName.MatchString(s.Name) {
		v.add(p, "use lowercase letters, digits, '-' and '_', starting with a letter or digit",
			"invalid service name %q", s.Name)
	}
	v.runtimeBlocks(s, p)
	if s.Replicas < 1 {
		v.add(f("replicas"), "use 1 or more", "must be at least 1, got %d", s.Replicas)
	}
	if s.Host == "" {
		v.add(f("host"), "remove it to use 127.0.0.1", "must not be empty")
	} else if _, err := netip.ParseAddr(s.Host); err != nil && !validHostname(s.Host) {
		v.add(f("host"), "use an IP address such as 127.0.0.1", "%q is not an address", s.Host)
	}
	v.hosts(s, p)
	v.pathPrefix(f("path_prefix"), s.PathPrefix)
	v.ports(s, p)
	v.health(s, f("health"))
	if v.oneOf(f("strategy"), s.Strategy, StrategySwitch, StrategyCanary, StrategyRolling) {
		v.portCount(s, p)
	}
	v.canary(&s.Canary, f("canary"))
	v.rolling(s, f("rolling"))
	v.atLeast(f("deploy_timeout"), s.DeployTimeout, MinDeployTimeout)
	v.atLeast(f("hooks.timeout"), s.Hooks.Timeout, MinHookTimeout)
	v.migrations(s.Migrations, f("migrations"))
	v.atLeast(f("response_header_timeout"), s.ResponseHeaderTimeout, MinResponseHeaderTimeout)
	v.nonNegative(f("max_body_bytes"), s.MaxBodyBytes)
	if s.BodyReadTimeout != nil {
		v.nonNegativeDuration(f("body_read_timeout"), *s.BodyReadTimeout)
	}
	if s.MinBodyRate != nil {
		v.nonNegative(f("min_body_rate"), *s.MinBodyRate)
	}
	v.oneOf(f("balance"), s.Balance, BalanceLeastInflight, BalanceRoundRobin)
	v.token(f("sticky.cookie"), s.Sticky.Cookie, true)
	v.token(f("sticky.header"), s.Sticky.Header, false)
	v.token(f("force.header"), s.Force.Header, false)
	v.token(f("force.cookie"), s.Force.Cookie, false)
	v.gateway(s, p)
	v.compression(s.Compression, f("compression"))
	v.files(s, p)
}

// runtimeBlocks checks that the block for s.Runtime is present and valid and
// that no other runtime's block is given.
func (v *validator) runtimeBlocks(s *Service, p string) {
	if !v.oneOf(p+".runtime", s.Runtime, RuntimeProcess, RuntimeDocker, RuntimeStatic) {
		return
	}
	blocks := []struct {
		kind  string
		given bool
	}{{RuntimeProcess, s.Process != nil}, {RuntimeDocker, s.Docker != nil}, {RuntimeStatic, s.Static != nil}}
	for _, b := range blocks {
		switch {
		case b.kind == s.Runtime && !b.given:
			v.add(p, fmt.Sprintf("add a %s block (see examples/cutover.yaml)", b.kind),
				"runtime %s needs a %s block", s.Runtime, b.kind)
		case b.kind != s.Runtime && b.given:
			v.add(p+"."+b.kind, fmt.Sprintf("set runtime: %s, or remove the %s block", b.kind, b.kind),
				"%s block given but runtime is %s", b.kind, s.Runtime)
		}
	}
	switch {
	case s.Runtime == RuntimeProcess && s.Process != nil:
		v.process(s.Process, p+".process")
	case s.Runtime == RuntimeDocker && s.Docker != nil:
		v.docker(s.Docker, p+".docker")
	case s.Runtime == RuntimeStatic && s.Static != nil:
		v.static(s.Static, p+".static")
	}
	if s.Health.Docker && s.Runtime != RuntimeDocker {
		v.add(p+".health.docker", "remove it", "only applies to the docker runtime")
	}
}

func (v *validator) process(pr *Process, p string) {
	if strings.TrimSpace(pr.Command) == "" {
		v.add(p+".command", "set the program to run, e.g. command: java (its arguments go in args)",
			"command is required")
	}
	v.template(p+".command", pr.Command)
	for i, a := range pr.Args {
		v.template(fmt.Sprintf("%s.args[%d]", p, i), a)
	}
	v.template(p+".dir", pr.Dir)
	v.env(p+".env", pr.Env)
	if pr.LogMaxBytes <= 0 {
		v.add(p+".log_max_bytes", "remove it to use 10 MiB", "must be positive, got %d", pr.LogMaxBytes)
	}
}

func (v *validator) env(p string, env map[string]string) {
	for _, k := range sortedKeys(env) {
		if k == "" || strings.ContainsAny(k, "= \t\n\x00") {
			v.add(p+"."+k, "use a name without '=' or spaces", "invalid environment variable name %q", k)
		}
		v.template(p+"."+k, env[k])
	}
}

func (v *validator) static(st *Static, p string) {
	if len(st.Targets) == 0 && st.Address == "" {
		v.add(p, `set static.address (e.g. "127.0.0.1:{{.Port}}") or static.targets`, "needs targets or address")
	}
	for _, version := range sortedKeys(st.Targets) {
		tp := p + ".targets." + version
		if len(st.Targets[version]) == 0 {
			v.add(tp, "list at least one host:port", "no addresses for version %q", version)
		}
		for i, t := range st.Targets[version] {
			if _, err := addrPort(t); err != nil || strings.HasPrefix(t, ":") {
				v.add(fmt.Sprintf("%s[%d]", tp, i), `write host:port, e.g. "10.0.0.5:8080"`, "%q is not a host:port address", t)
			}
		}
	}
	if st.Address == "" {
		return
	}
	if msg := checkTemplate(st.Address); msg != "" {
		v.template(p+".address", st.Address)
		return
	}
	out, _ := Render(st.Address, sampleData)
	if _, err := addrPort(out); err != nil || strings.HasPrefix(out, ":") {
		v.add(p+".address", `write host:port, e.g. "127.0.0.1:{{.Port}}"`, "%q does not give a host:port address", st.Address)
	}
}

var (
	dockerNetworks = []string{"bridge", "host"}
	dockerPulls    = []string{"missing", "always", "never"}
	stopSignals    = []string{"SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGWINCH", "SIGKILL"}
)

func (v *validator) docker(dk *Docker, p string) {
	if strings.TrimSpace(dk.Image) == "" {
		v.add(p+".image", `set the image, e.g. "shop/api:{{.Version}}"`, "image is required")
	}
	v.template(p+".image", dk.Image)
	for i, a := range dk.Command {
		v.template(fmt.Sprintf("%s.command[%d]", p, i), a)
	}
	v.env(p+".env", dk.Env)
	if dk.ContainerPort < 1 || dk.ContainerPort > 65535 {
		v.add(p+".container_port", "use the port the app listens on inside the container, e.g. 8080",
			"must be from 1 to 65535, got %d", dk.ContainerPort)
	}
	v.oneOf(p+".network", dk.Network, dockerNetworks...)
	v.oneOf(p+".pull", dk.Pull, dockerPulls...)
	v.oneOf(p+".stop_signal", dk.StopSignal, stopSignals...)
	if dk.Memory != "" {
		if _, err := dk.MemoryBytes(); err != nil {
			v.add(p+".memory", `write a size such as "512m" or "1g"`, "%v", err)
		}
	}
	if dk.CPUs < 0 {
		v.add(p+".cpus", "use a positive number such as 1.5", "must not be negative")
	}
	v.nonNegative(p+".keep_images", int64(dk.KeepImages))
	for i, vol := range dk.Volumes {
		parts := strings.Split(vol, ":")
		if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || !strings.HasPrefix(parts[1], "/") {
			v.add(fmt.Sprintf("%s.volumes[%d]", p, i), `write source:/container/path[:ro], e.g. "/srv/data:/data:ro"`,
				"%q is not a volume", vol)
		}
	}
}

// validHostname reports whether h is a DNS name (letters, digits, '-', '.').
func validHostname(h string) bool {
	if h == "" || len(h) > 253 || strings.HasPrefix(h, ".") || strings.HasSuffix(h, ".") || strings.Contains(h, "..") {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// hosts checks the host patterns: exact names, "*.domain" or "*".
func (v *validator) hosts(s *Service, p string) {
	seen := map[string]int{}
	for i, h := range s.Hosts {
		hp := fmt.Sprintf("%s.hosts[%d]", p, i)
		norm := strings.ToLower(h)
		name := strings.TrimPrefix(norm, "*.")
		if norm != "*" && !validHostname(name) {
			fix := `write a name such as "shop.example.com", "*.example.com" or "*"`
			if _, _, err := net.SplitHostPort(h); err == nil {
				fix = "leave the port out: hosts match the name only"
			}
			v.add(hp, fix, "%q is not a host name or pattern", h)
			continue
		}
		if j, dup := seen[norm]; dup {
			v.add(hp, "remove one of them", "%q is listed twice (also hosts[%d])", h, j)
		}
		seen[norm] = i
	}
}

func (v *validator) pathPrefix(p, prefix string) {
	switch {
	case !strings.HasPrefix(prefix, "/"):
		v.add(p, fmt.Sprintf("write it as %q", "/"+prefix), "must start with '/', got %q", prefix)
	case strings.ContainsAny(prefix, "?# \t"):
		v.add(p, "use a path without query, fragment or spaces", "%q is not a path", prefix)
	}
}

// token checks an HTTP header or cookie name (empty is allowed unless required).
func (v *validator) token(p, s string, required bool) {
	if s == "" {
		if required {
			v.add(p, "remove it to use the default", "must not be empty")
		}
		return
	}
	for _, r := range s {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?={}`, r) {
			v.add(p, "use letters, digits and '-' or '_'", "%q is not a valid name", s)
			return
		}
	}
}
