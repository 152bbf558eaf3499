package docker

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadEnvFile(t *testing.T) {
	t.Setenv("CUTOVER_TEST_FROM_HOST", "host value")
	path := filepath.Join(t.TempDir(), "app.env")
	content := "# comment\n\nDB_URL=postgres://db/app?x=1\n  QUOTED=\"kept\"\nEMPTY=\nCUTOVER_TEST_FROM_HOST\nCUTOVER_TEST_UNSET_VAR\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	if err := readEnvFile(path, got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"DB_URL":                 "postgres://db/app?x=1",
		"QUOTED":                 `"kept"`,
		"EMPTY":                  "",
		"CUTOVER_TEST_FROM_HOST": "host value",
	}
	if len(got) != len(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestReadEnvFileErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.env")
	if err := os.WriteFile(bad, []byte("OK=1\nBAD KEY=2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := readEnvFile(bad, map[string]string{})
	if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), "bad.env:2") {
		t.Errorf("error = %v, want ErrInvalidSpec naming bad.env:2", err)
	}
	err = readEnvFile(filepath.Join(dir, "missing.env"), map[string]string{})
	if !errors.Is(err, ErrInvalidSpec) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file error = %v", err)
	}
}
