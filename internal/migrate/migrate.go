// Package migrate runs a service's database migrations inside its deploys:
// it finds the pending migrations from the tool's live history table,
// checks the history's health, lints the pending files against the live
// catalog (package lint), and runs the user's migration command with lock
// and statement timeouts, retrying a lock timeout with backoff.
//
// Everything that reads the database uses a read-only session (see Open);
// only Run changes it, by running the user's tool (or, for tool plain,
// cutover's own runner). The DSN is never logged or printed: errors are
// passed through redact.
//
// Tools and their history tables:
//
//	flyway          flyway_schema_history  V<ver>__<desc>.sql, R__<desc>.sql; checksums, failed rows, baseline
//	golang-migrate  schema_migrations      <ver>_<title>.up.sql; one row: the latest version and its dirty flag
//	goose           goose_db_version       <ver>_<name>.sql; the latest row of each version says applied or not
//	dbmate          schema_migrations      <ver>_<name>.sql; one row per applied version
//	plain           cutover_schema_migrations  <ver>_<name>.sql, applied by cutover; checksums, failed rows
package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/migrate/lint"
	"github.com/cutover-dev/cutover/internal/migrate/sqlparse"
)

// Source is one service's migrations: its config block and its DSN.
type Source struct {
	Service string
	Config  *config.Migrations
	// DSN is the database's DSN (config.Migrations.ReadDSN); never logged.
	DSN string
	// WorkDir is where the command runs (the config file's directory; ""
	// for the current one).
	WorkDir string
	// StateDir is cutover's state directory (the rollback floor's home).
	StateDir string
}

// Dialect returns the dialect of the source's database.
func (s Source) Dialect() sqlparse.Dialect {
	d, _ := sqlparse.ParseDialect(s.Config.Database)
	return d
}

// Table returns the history table.
func (s Source) Table() string {
	if s.Config.HistoryTable != "" {
		return s.Config.HistoryTable
	}
	return DefaultHistoryTable(s.Config.Tool)
}

// Status is what cutover knows of a service's migrations from the live
// database: the server, the history, the plan and the catalog.
type Status struct {
	Service  string      `json:"service"`
	Tool     string      `json:"tool"`
	Database string      `json:"database"`
	Server   ServerInfo  `json:"server"`
	Table    string      `json:"history_table"`
	Exists   bool        `json:"history_exists"`
	Dir      string      `json:"dir"`
	Files    int         `json:"files"`
	Expand   []Migration `json:"expand"`
	Contract []Migration `json:"contract"`
	*Plan

	catalog *lint.StaticCatalog
	dialect sqlparse.Dialect
	tool    string
}

// ServerInfo is the server's flavour and version, for output.
type ServerInfo struct {
	Flavour string `json:"flavour"`
	Version string `json:"version"`
}

// Inspect reads the service's migrations from the directory and the live
// database, read-only: history, plan, health and catalog.
func Inspect(ctx context.Context, src Source) (*Status, error) {
	d := src.Dialect()
	if d == 0 {
		return nil, fmt.Errorf("migrations.database: unknown database %q", src.Config.Database)
	}
	files, err := Discover(src.Config.Tool, d, src.Config.Dir)
	if err != nil {
		return nil, fmt.Errorf("migrations.dir %s: %w", src.Config.Dir, err)
	}
	db, err := Open(ctx, d, src.DSN)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return inspect(ctx, db, src, d, files)
}

func inspect(ctx context.Context, db *sql.DB, src Source, d sqlparse.Dialect, files []Migration) (*Status, error) {
	applied, exists, err := ReadHistory(ctx, db, d, src.Config.Tool, src.Table())
	if err != nil {
		return nil, err
	}
	cat, err := LoadCatalog(ctx, db, d)
	if err != nil {
		return nil, err
	}
	plan := Compare(src.Config.Tool, files, applied)
	if plan.Applied == nil {
		plan.Applied = []Applied{}
	}
	st := &Status{
		Service: src.Service, Tool: src.Config.Tool, Database: src.Config.Database,
		Server: ServerInfo{Flavour: cat.Srv.Flavour.String(), Version: fmt.Sprintf("%d.%d", cat.Srv.Major, cat.Srv.Minor)},
		Table:  src.Table(), Exists: exists, Dir: src.Config.Dir, Files: len(files),
		Plan: plan, Expand: plan.Expand(), Contract: plan.Contract(),
		catalog: cat, dialect: d, tool: src.Config.Tool,
	}
	if st.Expand == nil {
		st.Expand = []Migration{}
	}
	return st, nil
}

// Catalog returns the live facts read by Inspect.
func (s *Status) Catalog() lint.Catalog { return s.catalog }

// LintOptions configure Status.Lint.
type LintOptions struct {
	Allow  []lint.Allow
	Strict bool
}

// Lint judges the pending migrations against the live catalog, with the
// applied files read for the schema they build.
func (s *Status) Lint(opts LintOptions) (*lint.Result, error) {
	var pending, done []lint.File
	for _, m := range s.Pending {
		pending = append(pending, lint.File{Path: displayPath(m), Src: m.Src})
	}
	for _, m := range s.Done {
		done = append(done, lint.File{Path: displayPath(m), Src: m.Src})
	}
	return lint.Lint(pending, lint.Options{
		Dialect: s.dialect, Strict: opts.Strict, Allow: opts.Allow, Catalog: s.catalog, Applied: done,
		InTransaction: inTransaction(s.tool, s.dialect),
	})
}

// displayPath names a file in findings: its path as configured.
func displayPath(m Migration) string {
	if m.Path != "" {
		return filepath.Clean(m.Path)
	}
	return m.Rel
}

// inTransaction reports whether the tool runs each file in a transaction
// on the dialect (on MySQL and MariaDB DDL commits at once anyway).
func inTransaction(tool string, d sqlparse.Dialect) bool {
	return d == sqlparse.Postgres
}
