package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/bad/*.golden from the current output")

// TestBadConfigs loads every testdata/bad/*.yaml and compares the complete
// error text with the .golden file next to it. A file that parses is then
// validated against the serving environment as Check does, with no
// environment variables set.
func TestBadConfigs(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 15 {
		t.Fatalf("found %d bad configs, want at least 15", len(files))
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			c, err := parse(data, file, userEnv) // a fixed environment keeps the output stable
			if err == nil {
				err = c.Validate(func(string) (string, bool) { return "", false })
			}
			if err == nil {
				t.Fatalf("Load(%s) succeeded with %d services, want errors", file, len(c.Services))
			}
			var errs Errors
			if !errors.As(err, &errs) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Load returned %T %v, want Errors matching ErrInvalid", err, err)
			}
			for _, e := range errs {
				if e.File != file || e.Line == 0 {
					t.Errorf("entry %q has file %q line %d, want %q and a line", e.Msg, e.File, e.Line, file)
				}
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("errors differ from %s\n--- got\n%s--- want\n%s", golden, got, want)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) || errors.Is(err, ErrInvalid) {
		t.Fatalf("Load of a missing file = %v, want a wrapped os.ErrNotExist", err)
	}
}

func TestExampleConfigLoads(t *testing.T) {
	c, err := Load("../../examples/cutover.yaml")
	if err != nil {
		t.Fatalf("examples/cutover.yaml does not validate:\n%v", err)
	}
	if got, want := strings.Join(c.ServiceOrder, ","), "shop,api,legacy"; got != want {
		t.Errorf("ServiceOrder = %s, want %s", got, want)
	}
	shop := c.Services["shop"]
	if shop.Health.Path != "/actuator/health" || shop.Runtime != RuntimeProcess {
		t.Errorf("shop health path %q runtime %q", shop.Health.Path, shop.Runtime)
	}
	if got := shop.PortPool(); len(got) != 2 || got[0] != 8080 || got[1] != 8081 {
		t.Errorf("shop PortPool = %v, want [8080 8081]", got)
	}
	if len(c.Services["api"].PortPool()) != 10 {
		t.Errorf("api PortPool = %v, want 10 ports", c.Services["api"].PortPool())
	}
	cmd, err := Render(strings.Join(shop.Process.Args, " "), TemplateData{Version: "1.4.2", Port: 8081})
	if err != nil || cmd != "-Xmx512m -jar app-1.4.2.jar --server.port=8081" {
		t.Errorf("rendered args = %q, %v", cmd, err)
	}
}
