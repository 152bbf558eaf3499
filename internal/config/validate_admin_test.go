package config

import (
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// adminConfig returns a config with a TCP admin listener whose token file
// holds tok with the given mode, plus extra admin keys.
func adminConfig(t *testing.T, tok string, mode os.FileMode, extra string) (*Config, string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(file, mode); err != nil {
		t.Fatal(err)
	}
	data := "admin:\n  tcp: \"127.0.0.1:9900\"\n  token_file: " + file + "\n" + extra +
		"services:\n  web: {process: {command: sh}, ports: [1, 2]}\n"
	c, err := parse([]byte(data), "c.yaml", userEnv)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return c, file
}

func noEnv(string) (string, bool) { return "", false }

func TestValidateRefusesShortToken(t *testing.T) {
	c, _ := adminConfig(t, "short-token", 0o600, "")
	err := c.Validate(noEnv)
	want := "c.yaml:3: admin.token_file: the admin token is 11 bytes long, at least 32 are needed; generate one with: openssl rand -hex 32"
	if err == nil || err.Error() != want {
		t.Errorf("Validate = %v\nwant %s", err, want)
	}
	long, _ := adminConfig(t, strings.Repeat("a", 32), 0o400, "")
	if err := long.Validate(noEnv); err != nil {
		t.Errorf("32-byte token, mode 0400: %v", err)
	}
}

func TestValidateRefusesShortEnvToken(t *testing.T) {
	c, err := parse([]byte(tcpAdmin), "c.yaml", userEnv)
	if err != nil {
		t.Fatal(err)
	}
	env := func(k string) (string, bool) { return "abc", k == TokenEnv }
	err = c.Validate(env)
	if err == nil || !strings.Contains(err.Error(), "admin.tcp: the admin token is 3 bytes long") {
		t.Errorf("Validate = %v", err)
	}
}

func TestValidateRefusesReadableTokenFile(t *testing.T) {
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660} {
		c, file := adminConfig(t, strings.Repeat("a", 64), mode, "")
		err := c.Validate(noEnv)
		if err == nil || !strings.Contains(err.Error(), "admin.token_file: token file "+file+" has mode") ||
			!strings.Contains(err.Error(), "it must be 0600 or 0400; chmod 600 "+file) {
			t.Errorf("mode %o: Validate = %v", mode, err)
		}
		if err := CheckTokenFile(file); !errors.Is(err, ErrWeakToken) || !strings.Contains(err.Error(), "mode 0"+modeDigits(mode)) {
			t.Errorf("mode %o: CheckTokenFile = %v", mode, err)
		}
	}
}

func modeDigits(m os.FileMode) string {
	return string([]byte{'0' + byte(m>>6&7), '0' + byte(m>>3&7), '0' + byte(m&7)})
}

func TestCheckToken(t *testing.T) {
	if err := CheckToken(strings.Repeat("x", 31)); !errors.Is(err, ErrWeakToken) ||
		!strings.Contains(err.Error(), "31 bytes long") || !strings.Contains(err.Error(), "openssl rand -hex 32") {
		t.Errorf("31 bytes: %v", err)
	}
	if err := CheckToken(strings.Repeat("x", 32)); err != nil {
		t.Errorf("32 bytes: %v", err)
	}
}

func TestValidateSocketGroup(t *testing.T) {
	c, _ := adminConfig(t, strings.Repeat("a", 32), 0o600, "  socket_group: no-such-group-cutover\n")
	err := c.Validate(noEnv)
	if err == nil || !strings.Contains(err.Error(), `admin.socket_group: group "no-such-group-cutover" does not exist`) {
		t.Errorf("Validate = %v", err)
	}
	g, err := user.LookupGroupId(strconv.Itoa(os.Getgid()))
	if err != nil {
		t.Fatalf("the test's own group: %v", err)
	}
	ok, _ := adminConfig(t, strings.Repeat("a", 32), 0o600, "  socket_group: "+g.Name+"\n")
	if err := ok.Validate(noEnv); err != nil {
		t.Errorf("group %s: %v", g.Name, err)
	}
}

func TestValidateAdminTLSAndMetrics(t *testing.T) {
	data := "admin:\n  tls: {cert: /nonexistent.pem}\nmetrics:\n  listen: nope\nservices:\n  web: {process: {command: sh}, ports: [1, 2]}\n"
	_, err := parse([]byte(data), "c.yaml", userEnv)
	for _, want := range []string{
		"admin.tls: a TLS admin listener needs a certificate and a key",
		"admin.tls.cert: file /nonexistent.pem does not exist",
		`metrics.listen: "nope" is not a valid address`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("errors %v\nlack %q", err, want)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:9100": true, "[::1]:9100": true, "localhost:1": true,
		":9100": false, "0.0.0.0:9100": false, "192.0.2.1:80": false, "bad": false,
	} {
		if got := IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v", addr, got)
		}
	}
}
