package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// maxSocketPath is the longest unix socket path Linux accepts.
const maxSocketPath = 107

// Validate checks c and returns Errors listing every problem, or nil.
// Load and Parse already call it with a nil lookupEnv, which skips the checks
// that depend on the serving environment; Check (used by cutover serve,
// validate and reload) calls it again with os.LookupEnv. Those checks are: a
// TCP admin listener needs admin.token_file or the CUTOVER_TOKEN environment
// variable, and each process service's command must be an executable file
// (a bare name is looked up in PATH, the service's env PATH if it sets one)
// and its dir an existing directory; templated values are not checked.
// A config built in code should have ApplyDefaults called first.
func (c *Config) Validate(lookupEnv func(string) (string, bool)) error {
	errs := c.validate(lookupEnv)
	errs.sortByLine()
	return errs.orNil()
}

// validator collects problems found in one config.
type validator struct {
	c    *Config
	errs Errors
}

// add records a problem at path; fix says how to correct it.
func (v *validator) add(path, fix, format string, args ...any) {
	pos := v.c.src.lineOf(path)
	v.errs = append(v.errs, &Error{
		File: v.c.Path, Line: pos.line, Column: pos.col, Path: path,
		Msg: fmt.Sprintf(format, args...), Fix: fix,
	})
}

// at returns " (line N)" locating path, or "" when the line is unknown, for
// messages that point at another entry.
func (v *validator) at(path string) string {
	if line := v.c.src.lineOf(path).line; line > 0 {
		return fmt.Sprintf(" (line %d)", line)
	}
	return ""
}

func (c *Config) validate(lookupEnv func(string) (string, bool)) Errors {
	v := &validator{c: c}
	v.listen()
	v.admin(lookupEnv)
	v.adminAccess(lookupEnv)
	v.trustedProxies()
	v.cluster()
	if len(c.Services) == 0 {
		v.noServices()
	}
	for _, name := range c.serviceNames() {
		v.service(c.Services[name])
		if lookupEnv != nil {
			v.serviceEnvironment(c.Services[name])
			v.filesEnvironment(c.Services[name])
		}
	}
	v.routes()
	v.portConflicts()
	return v.errs
}

// serviceNames returns ServiceOrder, or the sorted names when ServiceOrder
// does not list every service (a config built in code).
func (c *Config) serviceNames() []string {
	if len(c.ServiceOrder) == len(c.Services) {
		return c.ServiceOrder
	}
	return sortedKeys(c.Services)
}

func (v *validator) listen() {
	l := &v.c.Listen
	if l.HTTP == "" && l.HTTPS == "" {
		v.add("listen", `set listen.http (e.g. ":8000") or listen.https`, "no listener: http and https are both empty")
	}
	v.address("listen.http", l.HTTP)
	v.address("listen.https", l.HTTPS)
	if l.HTTP != "" && l.HTTP == l.HTTPS {
		v.add("listen.https", "use a different port for https", "same address as listen.http")
	}
	switch {
	case l.ACME != nil:
		v.acme()
	case l.HTTPS != "":
		if l.TLS.Cert == "" {
			v.add("listen.tls.cert", "set listen.tls.cert to a PEM certificate file", "https needs a certificate")
		}
		if l.TLS.Key == "" {
			v.add("listen.tls.key", "set listen.tls.key to a PEM private key file", "https needs a private key")
		}
		v.file("listen.tls.cert", l.TLS.Cert)
		v.file("listen.tls.key", l.TLS.Key)
	case l.TLS.Cert != "" || l.TLS.Key != "":
		v.add("listen.tls", `set listen.https (e.g. ":443") or remove listen.tls`, "tls is set but listen.https is not")
	}
	v.positive("listen.read_header_timeout", l.ReadHeaderTimeout)
	v.positive("listen.idle_timeout", l.IdleTimeout)
	if l.MaxHeaderBytes <= 0 {
		v.add("listen.max_header_bytes", "remove it to use 65536", "must be positive, got %d", l.MaxHeaderBytes)
	}
	v.nonNegativeDuration("listen.body_read_timeout", l.BodyReadTimeout)
	v.nonNegative("listen.min_body_rate", l.MinBodyRate)
	if l.MaxConnections <= 0 {
		v.add("listen.max_connections", "remove it to use 10000", "must be positive, got %d", l.MaxConnections)
	}
}

// nonNegativeDuration checks a duration where 0 turns a limit off.
func (v *validator) nonNegativeDuration(path string, d Duration) {
	if d < 0 {
		v.add(path, "use 0 (no limit) or a positive duration such as 60s", "must not be negative, got %s", d)
	}
}

func (v *validator) admin(lookupEnv func(string) (string, bool)) {
	a := &v.c.Admin
	switch {
	case a.Socket == "":
		v.add("admin.socket", "remove it to use <state_dir>/admin.sock", "must not be empty")
	case len(a.Socket) > maxSocketPath:
		v.add("admin.socket", "set admin.socket (or state_dir) to a shorter path",
			"unix socket path is %d bytes long, the limit is %d", len(a.Socket), maxSocketPath)
	}
	v.address("admin.tcp", a.TCP)
	v.file("admin.token_file", a.TokenFile)
	if a.TCP != "" && a.TokenFile == "" && lookupEnv != nil {
		if tok, _ := lookupEnv(TokenEnv); strings.TrimSpace(tok) == "" {
			v.add("admin.tcp", "set admin.token_file or the "+TokenEnv+" environment variable",
				"a TCP admin listener needs a token")
		}
	}
	if v.c.StateDir == "" {
		v.add("state_dir", "remove it to use the default", "must not be empty")
	}
}

func (v *validator) trustedProxies() {
	for i, s := range v.c.TrustedProxies {
		if _, ok := parsePrefix(s); !ok {
			v.add(fmt.Sprintf("trusted_proxies[%d]", i), "write a CIDR such as 10.0.0.0/8 or an address such as 192.0.2.1",
				"%q is not an IP address or CIDR", s)
		}
	}
}

// parsePrefix reads a CIDR or a single address (as a /32 or /128).
func parsePrefix(s string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(strings.TrimSpace(s)); err == nil {
		return p.Masked(), true
	}
	if a, err := netip.ParseAddr(strings.TrimSpace(s)); err == nil {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}

// address checks a listen address of the form "host:port" (empty is allowed).
func (v *validator) address(path, addr string) {
	if addr == "" {
		return
	}
	if _, err := addrPort(addr); err != nil {
		v.add(path, `write host:port, e.g. ":8000" or "127.0.0.1:9000"`, "%q is not a valid address: %v", addr, err)
	}
}

// addrPort returns the port of a "host:port" address.
func addrPort(addr string) (int, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, errors.New("missing port")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return 0, fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	return n, nil
}

// file checks that a configured file exists (empty is allowed).
func (v *validator) file(path, name string) {
	if name == "" {
		return
	}
	fi, err := os.Stat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		v.add(path, "create the file or correct the path", "file %s does not exist", name)
	case err != nil:
		v.add(path, "check the file's permissions", "cannot read %s: %v", name, err)
	case fi.IsDir():
		v.add(path, "name a file, not a directory", "%s is a directory", name)
	}
}

// Minimums of durations that have one: anything shorter is a typo (1ns for
// 1s) that would make every deploy or probe fail at once.
const (
	MinDeployTimeout         = Duration(time.Second)
	MinHookTimeout           = Duration(time.Second)
	MinResponseHeaderTimeout = Duration(100 * time.Millisecond)
	MinHealthInterval        = Duration(10 * time.Millisecond)
	MinHealthTimeout         = Duration(10 * time.Millisecond)
	MinMaxStepDuration       = Duration(100 * time.Millisecond)
)

// atLeast checks a duration that must be min or longer.
func (v *validator) atLeast(path string, d, min Duration) {
	if d < min {
		v.add(path, fmt.Sprintf("use %s or more, or remove it to use the default", min), "must be at least %s, got %s", min, d)
	}
}

// positive checks a duration that must be above zero.
func (v *validator) positive(path string, d Duration) {
	if d <= 0 {
		v.add(path, "use a positive duration such as 30s", "must be positive, got %s", d)
	}
}

// nonNegative checks an integer that must not be below zero.
func (v *validator) nonNegative(path string, n int64) {
	if n < 0 {
		v.add(path, "use 0 or a positive number", "must not be negative, got %d", n)
	}
}

// oneOf checks that s is one of allowed.
func (v *validator) oneOf(path, s string, allowed ...string) bool {
	for _, a := range allowed {
		if s == a {
			return true
		}
	}
	fix := "use one of: " + strings.Join(allowed, ", ")
	if sug := suggest(s, allowed); sug != "" {
		fix = fmt.Sprintf("did you mean %q?", sug)
	}
	v.add(path, fix, "unknown value %q", s)
	return false
}

// template checks a templated field (empty is allowed).
func (v *validator) template(path, text string) {
	if text == "" {
		return
	}
	if msg := checkTemplate(text); msg != "" {
		v.add(path, "use {{.Version}}, {{.Port}}, {{.Service}} or {{.Instance}}", "bad template: %s", msg)
	}
}
