package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckSharesServeValidation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("services:\n  web:\n    process: {command: sh}\n    ports: [1, 2]\n    max_body_bytes: 10MB\n")
	c, err := Check(path)
	if err != nil {
		t.Fatalf("Check = %v", err)
	}
	if got := c.Services["web"].MaxBodyBytes; got != 10_000_000 {
		t.Errorf("max_body_bytes: 10MB = %d, want 10000000", got)
	}
	write("services:\n  web:\n    process: {command: no-such-program-cutover}\n    ports: [1, 2]\n")
	if _, err := Load(path); err != nil {
		t.Fatalf("Load checks no environment, got %v", err)
	}
	_, err = Check(path)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "c.yaml:3: services.web.process.command: program") {
		t.Errorf("Check of a missing program = %v", err)
	}
	if _, err := Check(filepath.Join(dir, "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Check of a missing file = %v, want os.ErrNotExist", err)
	}
}

func TestLookPathUsesServiceEnvPath(t *testing.T) {
	dir := t.TempDir()
	prog := filepath.Join(dir, "app")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := lookPath("app", map[string]string{"PATH": "/nonexistent:" + dir}); err != nil || got != prog {
		t.Errorf("lookPath = %q, %v; want %q", got, err, prog)
	}
	if _, err := lookPath("sh", map[string]string{"PATH": dir}); err == nil {
		t.Error("lookPath found sh outside the service's PATH")
	}
}
