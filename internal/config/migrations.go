package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"text/template"
	"time"
)

// Migration tools: how cutover finds the pending migrations of a service
// (the files of Dir the tool's history table does not list).
const (
	ToolFlyway        = "flyway"
	ToolGolangMigrate = "golang-migrate"
	ToolGoose         = "goose"
	ToolDbmate        = "dbmate"
	ToolPlain         = "plain"
)

// Migration databases.
const (
	DatabaseMySQL    = "mysql"
	DatabaseMariaDB  = "mariadb"
	DatabasePostgres = "postgres"
)

// Defaults of the migrations block.
const (
	DefaultMigrationLockTimeout = Duration(5 * time.Second)
	DefaultMigrationLockRetries = 3
)

// Migrations says how a service's database migrations run inside a deploy:
// the expand migrations before any new instance starts, the contract ones
// once no old instance is left (see package migrate).
type Migrations struct {
	// Tool is flyway, golang-migrate, goose, dbmate or plain (files named
	// by a version prefix, 001_init.sql, applied by cutover itself and
	// recorded in its own table cutover_schema_migrations).
	Tool string `yaml:"tool"`
	// Dir holds the migration files; a file under a directory named
	// contract, or carrying "-- cutover:phase contract", is a contract
	// migration, every other one an expand migration.
	Dir string `yaml:"dir"`
	// Command applies migrations (sh -c), a template with .Service,
	// .Version, .Dir, .Phase (expand or contract) and .Target (the version
	// of the last migration the phase applies: goose up-to, migrate goto,
	// flyway -target). Required except for tool plain. It runs with the
	// DSN, timeouts added, in the environment variable DSNEnv (or
	// CUTOVER_DATABASE_DSN with DSNFile).
	Command string `yaml:"command"`
	// Database is mysql, mariadb or postgres.
	Database string `yaml:"database"`
	// DSNEnv names the environment variable holding the DSN. The DSN is
	// never logged, printed or stored.
	DSNEnv string `yaml:"dsn_env"`
	// DSNFile is a file holding the DSN (mode 0600 or 0400 recommended);
	// exactly one of DSNEnv and DSNFile is set.
	DSNFile string `yaml:"dsn_file"`
	// HistoryTable overrides the tool's history table (flyway:
	// flyway_schema_history; golang-migrate and dbmate: schema_migrations;
	// goose: goose_db_version; plain: cutover_schema_migrations). On
	// PostgreSQL it may be schema-qualified.
	HistoryTable string `yaml:"history_table"`
	// LockTimeout bounds waiting for a table lock in each statement
	// (default 5s); a migration that times out on a lock is retried.
	LockTimeout Duration `yaml:"lock_timeout"`
	// LockRetries is how many times a migration that failed on the lock
	// timeout is run again, with backoff (default 3; 0: never).
	LockRetries *int `yaml:"lock_retries"`
	// StatementTimeout bounds each statement (default 0: none).
	StatementTimeout Duration `yaml:"statement_timeout"`
	// Soak is how long the old version keeps serving on the migrated
	// schema, watched, before the new version starts (default 0).
	Soak Duration `yaml:"soak"`
}

// MigrationTemplateData is what the migrations command template can use.
type MigrationTemplateData struct {
	Service string
	Version string
	Dir     string
	// Phase is "expand" or "contract".
	Phase string
	// Target is the version of the last migration the phase applies.
	Target string
}

// RenderMigrationCommand expands the migrations command template.
func RenderMigrationCommand(text string, data MigrationTemplateData) (string, error) {
	t, err := template.New("field").Option("missingkey=error").Parse(text)
	if err != nil {
		return "", fmt.Errorf("bad template: %s", cleanMigrationTemplateError(err))
	}
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("bad template: %s", cleanMigrationTemplateError(err))
	}
	return b.String(), nil
}

var tmplNoMigrationField = regexp.MustCompile(`can't evaluate field (\w+) in type config\.MigrationTemplateData`)

func cleanMigrationTemplateError(err error) string {
	msg := tmplPrefix.ReplaceAllString(err.Error(), "")
	if m := tmplNoMigrationField.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("unknown field .%s", m[1])
	}
	return msg
}

// UsesTarget reports whether the command names .Target, so that a phase
// can stop before the migrations of the next one.
func (m *Migrations) UsesTarget() bool {
	return strings.Contains(m.Command, ".Target")
}

// Retries returns LockRetries, or its default when unset.
func (m *Migrations) Retries() int {
	if m.LockRetries == nil {
		return DefaultMigrationLockRetries
	}
	return *m.LockRetries
}

// ReadDSN returns the DSN from the environment variable or file. The error
// names the variable or file, never the DSN.
func (m *Migrations) ReadDSN(lookupEnv func(string) (string, bool)) (string, error) {
	if m.DSNFile != "" {
		b, err := os.ReadFile(m.DSNFile)
		if err != nil {
			return "", fmt.Errorf("migrations.dsn_file: %w", err)
		}
		dsn := strings.TrimSpace(string(b))
		if dsn == "" {
			return "", fmt.Errorf("migrations.dsn_file: %s is empty", m.DSNFile)
		}
		return dsn, nil
	}
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	dsn, ok := lookupEnv(m.DSNEnv)
	if !ok || strings.TrimSpace(dsn) == "" {
		return "", fmt.Errorf("migrations.dsn_env: environment variable %s is not set; export it with the database's DSN", m.DSNEnv)
	}
	return strings.TrimSpace(dsn), nil
}

func (m *Migrations) applyDefaults(unset unsetFunc, prefix string) {
	if unset(prefix+".lock_timeout", m.LockTimeout == 0) {
		m.LockTimeout = DefaultMigrationLockTimeout
	}
}

var (
	migrationTools     = []string{ToolFlyway, ToolGolangMigrate, ToolGoose, ToolDbmate, ToolPlain}
	migrationDatabases = []string{DatabaseMySQL, DatabaseMariaDB, DatabasePostgres}
	envName            = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	historyTable       = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_$]*\.)?[A-Za-z_][A-Za-z0-9_$]*$`)
)

// migrations checks a service's migrations block.
func (v *validator) migrations(m *Migrations, p string) {
	if m == nil {
		return
	}
	if m.Tool == "" {
		v.add(p+".tool", "set tool: flyway, golang-migrate, goose, dbmate or plain", "tool is required")
	} else {
		v.oneOf(p+".tool", m.Tool, migrationTools...)
	}
	if strings.TrimSpace(m.Dir) == "" {
		v.add(p+".dir", "set the directory of the migration files, e.g. dir: db/migrations", "dir is required")
	}
	switch {
	case strings.TrimSpace(m.Command) == "" && m.Tool != ToolPlain && m.Tool != "":
		v.add(p+".command", `set the command that applies migrations, e.g. "goose -dir db/migrations postgres \"$DATABASE_URL\" up-to {{.Target}}"`,
			"command is required for tool %s", m.Tool)
	case m.Command != "":
		t, err := template.New("field").Option("missingkey=error").Parse(m.Command)
		if err == nil {
			err = t.Execute(io.Discard, MigrationTemplateData{Service: "web", Version: "1.0.0", Dir: "db", Phase: "expand", Target: "1"})
		}
		if err != nil {
			v.add(p+".command", "use {{.Service}}, {{.Version}}, {{.Dir}}, {{.Phase}} or {{.Target}}", "bad template: %s", cleanMigrationTemplateError(err))
		}
	}
	if m.Database == "" {
		v.add(p+".database", "set database: mysql, mariadb or postgres", "database is required")
	} else {
		v.oneOf(p+".database", m.Database, migrationDatabases...)
	}
	switch {
	case m.DSNEnv == "" && m.DSNFile == "":
		v.add(p, "set dsn_env (an environment variable holding the DSN, e.g. DATABASE_URL) or dsn_file", "no DSN: dsn_env and dsn_file are both empty")
	case m.DSNEnv != "" && m.DSNFile != "":
		v.add(p+".dsn_file", "keep one of dsn_env and dsn_file", "dsn_env and dsn_file are both set")
	case m.DSNEnv != "" && !envName.MatchString(m.DSNEnv):
		v.add(p+".dsn_env", "name an environment variable, e.g. DATABASE_URL (the DSN itself goes in the environment, not here)",
			"%q is not an environment variable name", redactIfDSN(m.DSNEnv))
	}
	if m.HistoryTable != "" && !historyTable.MatchString(m.HistoryTable) {
		v.add(p+".history_table", "write a table name, optionally schema-qualified (e.g. public.flyway_schema_history)",
			"%q is not a table name", m.HistoryTable)
	}
	if m.Database != DatabasePostgres && strings.Contains(m.HistoryTable, ".") {
		v.add(p+".history_table", "name the table alone; the DSN's database holds it", "a schema-qualified name needs database: postgres")
	}
	v.atLeast(p+".lock_timeout", m.LockTimeout, Duration(10*time.Millisecond))
	if m.LockRetries != nil && (*m.LockRetries < 0 || *m.LockRetries > 100) {
		v.add(p+".lock_retries", "use 0 (never retry) to 100", "must be 0 to 100, got %d", *m.LockRetries)
	}
	v.nonNegativeDuration(p+".statement_timeout", m.StatementTimeout)
	if m.StatementTimeout > 0 && m.StatementTimeout < m.LockTimeout {
		v.add(p+".statement_timeout", "make it longer than lock_timeout, or 0 for none",
			"%s is shorter than lock_timeout %s: a lock wait would end as a statement timeout and not be retried", m.StatementTimeout, m.LockTimeout)
	}
	if m.Soak < 0 {
		v.add(p+".soak", "use 0 (no soak) or a positive duration such as 2m", "must not be negative, got %s", m.Soak)
	}
}

// redactIfDSN hides a value that looks like a DSN someone put where a
// variable name belongs.
func redactIfDSN(s string) string {
	if strings.ContainsAny(s, "@:/=") {
		return "<a DSN, not shown>"
	}
	return s
}

// migrationsEnvironment checks what a service's migrations need from the
// host: the DSN's variable or file, and the migrations directory.
func (v *validator) migrationsEnvironment(s *Service, lookupEnv func(string) (string, bool)) {
	m := s.Migrations
	if m == nil {
		return
	}
	p := "services." + s.Name + ".migrations"
	if m.DSNEnv != "" && envName.MatchString(m.DSNEnv) {
		if val, ok := lookupEnv(m.DSNEnv); !ok || strings.TrimSpace(val) == "" {
			v.add(p+".dsn_env", fmt.Sprintf("export %s with the database's DSN in cutover's environment", m.DSNEnv),
				"environment variable %s is not set", m.DSNEnv)
		}
	}
	if m.DSNFile != "" && m.DSNEnv == "" {
		v.file(p+".dsn_file", m.DSNFile)
	}
	if m.Dir != "" {
		fi, err := os.Stat(m.Dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			v.add(p+".dir", "create the directory or correct the path", "directory %s does not exist", m.Dir)
		case err != nil:
			v.add(p+".dir", "check the directory's permissions", "cannot read %s: %v", m.Dir, err)
		case !fi.IsDir():
			v.add(p+".dir", "name a directory, not a file", "%s is not a directory", m.Dir)
		}
	}
}
