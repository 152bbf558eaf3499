package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/user"
	"strings"
)

// MinTokenBytes is the shortest admin API token accepted: 32 bytes, as
// printed by "openssl rand -hex 16" or, better, "openssl rand -hex 32".
const MinTokenBytes = 32

// tokenFix says how to make a token that passes the checks.
const tokenFix = "generate one with: openssl rand -hex 32"

// ErrWeakToken reports an admin token that is too short or a token file
// that other users can read.
var ErrWeakToken = errors.New("weak admin token")

// CheckToken returns an error wrapping ErrWeakToken when tok is shorter
// than MinTokenBytes; the message names the length and how to make one.
func CheckToken(tok string) error {
	if len(tok) < MinTokenBytes {
		return fmt.Errorf("%w: the token is %d bytes long, at least %d are needed; %s",
			ErrWeakToken, len(tok), MinTokenBytes, tokenFix)
	}
	return nil
}

// CheckTokenFile returns an error wrapping ErrWeakToken when the file at
// path can be read or written by its group or others: its mode must be 0600
// or 0400. The message names the mode and the chmod that fixes it.
func CheckTokenFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("admin.token_file: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%w: token file %s has mode %04o, readable by other users; it must be 0600 or 0400: chmod 600 %s",
			ErrWeakToken, path, perm, path)
	}
	return nil
}

// LookupGroup returns the numeric id of the group named name (or given as
// a number). The error names the group when the host has no such group.
func LookupGroup(name string) (int, error) {
	g, err := user.LookupGroup(name)
	if err != nil {
		if g2, err2 := user.LookupGroupId(name); err2 == nil {
			g, err = g2, nil
		}
	}
	if err != nil {
		return 0, fmt.Errorf("group %q does not exist on this host (create it with: groupadd %s)", name, name)
	}
	var gid int
	if _, err := fmt.Sscan(g.Gid, &gid); err != nil {
		return 0, fmt.Errorf("group %q has a non-numeric id %q", name, g.Gid)
	}
	return gid, nil
}

// IsLoopback reports whether the listen address addr ("host:port") binds
// only loopback interfaces; an empty host (all interfaces) is not loopback,
// "localhost" is.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// adminAccess checks admin.socket_group, admin.tls and metrics.listen, and
// (at serve time, lookupEnv != nil) the group's existence and the token's
// length and file mode.
func (v *validator) adminAccess(lookupEnv func(string) (string, bool)) {
	a := &v.c.Admin
	t := a.TLS
	switch {
	case (t.Cert == "") != (t.Key == ""):
		v.add("admin.tls", "set both admin.tls.cert and admin.tls.key", "a TLS admin listener needs a certificate and a key")
	case t.Cert != "" && a.TCP == "":
		v.add("admin.tls", `set admin.tcp (e.g. "0.0.0.0:7443") or remove admin.tls`, "tls is set but admin.tcp is not")
	}
	v.file("admin.tls.cert", t.Cert)
	v.file("admin.tls.key", t.Key)
	v.address("metrics.listen", v.c.Metrics.Listen)
	if lookupEnv == nil {
		return
	}
	if a.SocketGroup != "" {
		if _, err := LookupGroup(a.SocketGroup); err != nil {
			v.add("admin.socket_group", "create the group or name an existing one", "%v", err)
		}
	}
	if a.TCP == "" {
		return
	}
	if a.TokenFile != "" {
		if _, err := os.Stat(a.TokenFile); err != nil {
			return // reported by v.file
		}
		if fi, err := os.Stat(a.TokenFile); err == nil && fi.Mode().Perm()&0o077 != 0 {
			v.add("admin.token_file", "chmod 600 "+a.TokenFile,
				"token file %s has mode %04o, readable by other users; it must be 0600 or 0400", a.TokenFile, fi.Mode().Perm())
		}
	}
	tok, err := v.c.AdminToken(lookupEnv)
	if err != nil {
		return // reported as a missing token
	}
	if len(tok) < MinTokenBytes {
		path := "admin.token_file"
		if a.TokenFile == "" {
			path = "admin.tcp"
		}
		v.add(path, tokenFix, "the admin token is %d bytes long, at least %d are needed", len(tok), MinTokenBytes)
	}
}
