package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func migrationsConfig(t *testing.T, block string) (*Config, string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o755); err != nil {
		t.Fatal(err)
	}
	src := "services:\n  web:\n    process:\n      command: /bin/sh\n    ports: [8080, 8081]\n    migrations:\n" + block
	path := filepath.Join(dir, "cutover.yaml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return c, dir
}

// A migrations block gets its defaults, and its dir is relative to the file.
func TestMigrationsDefaults(t *testing.T) {
	c, dir := migrationsConfig(t, "      tool: goose\n      dir: db\n      command: goose up-to {{.Target}}\n      database: postgres\n      dsn_env: DATABASE_URL\n")
	m := c.Services["web"].Migrations
	if m.LockTimeout.D() != 5*time.Second || m.Retries() != 3 || m.StatementTimeout != 0 || m.Soak != 0 {
		t.Fatalf("defaults: %+v", m)
	}
	if m.Dir != filepath.Join(dir, "db") {
		t.Fatalf("dir %q", m.Dir)
	}
	if !m.UsesTarget() {
		t.Fatal("command names .Target")
	}
	out, err := RenderMigrationCommand(m.Command, MigrationTemplateData{Target: "20240101"})
	if err != nil || out != "goose up-to 20240101" {
		t.Fatalf("render: %q %v", out, err)
	}
}

// The serving environment check names a missing DSN variable and never
// prints a DSN; ReadDSN reads the variable or the file.
func TestMigrationsEnvironment(t *testing.T) {
	c, dir := migrationsConfig(t, "      tool: plain\n      dir: db\n      database: mariadb\n      dsn_env: APP_DSN\n      lock_retries: 0\n")
	err := c.Validate(func(string) (string, bool) { return "", false })
	if err == nil || !strings.Contains(err.Error(), "services.web.migrations.dsn_env: environment variable APP_DSN is not set") {
		t.Fatalf("got %v", err)
	}
	m := c.Services["web"].Migrations
	if m.Retries() != 0 {
		t.Fatalf("an explicit lock_retries: 0 is kept, got %d", m.Retries())
	}
	secret := "app:s3cret@unix(/run/mysqld.sock)/app"
	env := func(k string) (string, bool) { return secret, k == "APP_DSN" }
	if err := c.Validate(env); err != nil {
		t.Fatal(err)
	}
	if got, err := m.ReadDSN(env); err != nil || got != secret {
		t.Fatalf("ReadDSN: %q %v", got, err)
	}
	if _, err := m.ReadDSN(func(string) (string, bool) { return "", false }); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("missing variable: %v", err)
	}
	f := filepath.Join(dir, "dsn")
	if err := os.WriteFile(f, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m.DSNEnv, m.DSNFile = "", f
	if got, err := m.ReadDSN(nil); err != nil || got != secret {
		t.Fatalf("ReadDSN from file: %q %v", got, err)
	}
}

// A statement timeout below the lock timeout would turn every lock wait
// into a failure that is not retried.
func TestMigrationsStatementBelowLockTimeout(t *testing.T) {
	src := "services:\n  web:\n    process:\n      command: /bin/sh\n    ports: [8080, 8081]\n    migrations:\n" +
		"      tool: plain\n      dir: db\n      database: postgres\n      dsn_env: X\n      lock_timeout: 10s\n      statement_timeout: 2s\n"
	_, err := Parse([]byte(src), "c.yaml")
	if err == nil || !strings.Contains(err.Error(), "c.yaml:12: services.web.migrations.statement_timeout: 2s is shorter than lock_timeout 10s") {
		t.Fatalf("got %v", err)
	}
}
