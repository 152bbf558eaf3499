package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const goodConfig = `state_dir: ./state
admin:
  socket: ./run/admin.sock
services:
  web:
    hosts: [www.example.com]
    process: {command: sh}
    ports: [8080, 8081]
  api:
    hosts: [api.example.com]
    process: {command: sh}
    ports: [9080, 9081]
`

const badConfig = `services:
  web:
    process: {command: ./web}
    ports: [8080, 8081]
    strategy: blue-green
`

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cutover.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestValidate(t *testing.T) {
	var h *harness
	good, bad := writeConfig(t, goodConfig), writeConfig(t, badConfig)

	r := h.run(t, "validate", "-c", good)
	if r.code != ExitOK || r.stdout != "ok: 2 services\n" {
		t.Fatalf("good: %+v", r)
	}
	r = h.run(t, "validate", "-c", good, "-o", "json")
	var ok struct {
		OK       bool     `json:"ok"`
		Services []string `json:"services"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &ok); err != nil || !ok.OK || strings.Join(ok.Services, ",") != "web,api" {
		t.Fatalf("good json: %q %v", r.stdout, err)
	}

	r = h.run(t, "validate", "-c", bad)
	if r.code != ExitUsage || !strings.Contains(r.stderr, bad+": 1 problem:") ||
		!strings.Contains(r.stderr, bad+":5: services.web.strategy") {
		t.Fatalf("bad: %+v", r)
	}
	r = h.run(t, "validate", "-c", bad, "-o", "json")
	var res struct {
		OK     bool            `json:"ok"`
		Errors []configProblem `json:"errors"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || res.OK || len(res.Errors) != 1 ||
		res.Errors[0].Line != 5 || res.Errors[0].Path != "services.web.strategy" || r.code != ExitUsage {
		t.Fatalf("bad json: %q %v", r.stdout, err)
	}

	r = h.run(t, "validate", "-c", filepath.Join(t.TempDir(), "missing.yaml"))
	if r.code != ExitUsage || !strings.Contains(r.stderr, "no such file") {
		t.Fatalf("missing: %+v", r)
	}
	if r := h.run(t, "validate"); r.code != ExitUsage || !strings.Contains(r.stderr, "pass -c FILE or set CUTOVER_CONFIG") {
		t.Fatalf("no -c: %+v", r)
	}
	h = &harness{env: map[string]string{envConfig: good}}
	if r := h.run(t, "validate"); r.code != ExitOK {
		t.Fatalf("CUTOVER_CONFIG: %+v", r)
	}
}

// TestValidateEmbeddedWithoutTheBuild: a valid embedded config is valid,
// with a warning that this binary cannot serve it.
func TestValidateEmbeddedWithoutTheBuild(t *testing.T) {
	var h *harness
	path := writeConfig(t, goodConfig+`cluster:
  name: web-1
  members:
    web-1: "http://10.0.0.5:2380"
    web-2: "http://10.0.0.6:2380"
    web-3: "http://10.0.0.7:2380"
`)
	r := h.run(t, "validate", "-c", path)
	if r.code != ExitOK || !strings.Contains(r.stderr, "warning: cluster.backend embedded needs the build") ||
		!strings.Contains(r.stderr, "go build -tags embedetcd ./cmd/cutover") {
		t.Fatalf("embedded config, default build: %+v", r)
	}
	r = h.run(t, "validate", "-c", path, "-o", "json")
	var out struct {
		OK       bool     `json:"ok"`
		Warnings []string `json:"warnings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || !out.OK || len(out.Warnings) != 1 {
		t.Fatalf("json: %q %v", r.stdout, err)
	}
}
