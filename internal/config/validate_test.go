package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

const tcpAdmin = `
admin:
  tcp: "127.0.0.1:9900"
services:
  web: {process: {command: sh}, ports: [1, 2]}
`

func TestValidateAdminTokenAtServeTime(t *testing.T) {
	c, err := parse([]byte(tcpAdmin), "c.yaml", userEnv)
	if err != nil {
		t.Fatalf("parse should leave the token check to serve time: %v", err)
	}
	noEnv := func(string) (string, bool) { return "", false }
	err = c.Validate(noEnv)
	want := "c.yaml:3: admin.tcp: a TCP admin listener needs a token; set admin.token_file or the CUTOVER_TOKEN environment variable"
	if err == nil || err.Error() != want {
		t.Errorf("Validate = %v, want %q", err, want)
	}
	withEnv := func(k string) (string, bool) { return strings.Repeat("t", MinTokenBytes), k == TokenEnv }
	if err := c.Validate(withEnv); err != nil {
		t.Errorf("Validate with CUTOVER_TOKEN set = %v", err)
	}
}

func TestValidateCodeBuiltConfig(t *testing.T) {
	c := &Config{Services: map[string]*Service{"web": {Process: &Process{}, Ports: []int{8080}}}}
	c.ApplyDefaults()
	err := c.Validate(nil)
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 2 {
		t.Fatalf("Validate = %v, want 2 errors", err)
	}
	for _, e := range errs {
		if e.File != "" || e.Line != 0 || !strings.HasPrefix(e.Error(), "services.web.") {
			t.Errorf("entry %q: want no file or line, path first", e)
		}
	}
}

func TestParseCollectsDecodeAndValidationErrors(t *testing.T) {
	data := "services:\n  web:\n    replicas: many\n    process: {command: ./web}\n    ports: [1]\n"
	_, err := parse([]byte(data), "c.yaml", userEnv)
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 2 {
		t.Fatalf("parse = %v, want a type error and a port-count error", err)
	}
	if errs[0].Path != "services.web.replicas" || errs[1].Path != "services.web.ports" {
		t.Errorf("paths = %s, %s", errs[0].Path, errs[1].Path)
	}
}

func TestParseNullMeansDefault(t *testing.T) {
	c, err := parse([]byte("access_log: ~\nservices:\n  web:\n    process: {command: ./w}\n    ports: [1, 2]\n    standby:\n"), "c.yaml", userEnv)
	if err != nil {
		t.Fatal(err)
	}
	if !c.AccessLogEnabled() || c.Services["web"].StandbyDuration() != DefaultStandby.D() {
		t.Error("null values should take the defaults")
	}
}

func TestParseIsStrictAboutKinds(t *testing.T) {
	for _, data := range []string{"services: [web]\n", "listen: :80\n", "services:\n  web: 5\n"} {
		if _, err := parse([]byte(data), "c.yaml", userEnv); !errors.Is(err, ErrInvalid) {
			t.Errorf("parse(%q) = %v, want ErrInvalid", data, err)
		}
	}
}

func TestParseBoundsAliasExpansion(t *testing.T) {
	var b strings.Builder
	b.WriteString("x-0: &m0 {web: {process: {command: ./w}, ports: [1, 2]}}\n")
	for i := 1; i <= 8; i++ {
		refs := strings.Repeat(fmt.Sprintf("*m%d, ", i-1), 10)
		fmt.Fprintf(&b, "x-%d: &m%d {<<: [%s]}\n", i, i, strings.TrimSuffix(refs, ", "))
	}
	b.WriteString("services: {<<: *m8}\n")
	_, err := parse([]byte(b.String()), "c.yaml", userEnv)
	if err == nil || !strings.Contains(err.Error(), "document too large") {
		t.Fatalf("parse of an exponential merge-key bomb = %v, want a size error", err)
	}
}

func TestValidateCodeBuiltDuplicateRoute(t *testing.T) {
	c := &Config{Services: map[string]*Service{
		"a": {Process: &Process{Command: "./a"}, Ports: []int{8080, 8081}},
		"b": {Process: &Process{Command: "./b"}, Ports: []int{8090, 8091}},
	}}
	c.ApplyDefaults()
	want := `services.b.path_prefix: host "*" with path_prefix "/" is already routed to service "a"; ` +
		"give one of them different hosts or a different path_prefix"
	if err := c.Validate(nil); err == nil || err.Error() != want {
		t.Errorf("Validate = %v, want %q", err, want)
	}
}
