package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/cutover-dev/cutover/internal/migrate/sqlparse"
)

// ErrHistory reports a history table or migrations directory cutover cannot
// read as the tool writes it.
var ErrHistory = errors.New("migration history")

// Applied is one row of a tool's history table, as cutover reads it.
type Applied struct {
	// Version is empty for a Flyway repeatable migration.
	Version string `json:"version"`
	// Name is the row's description or script, when the tool records one.
	Name string `json:"name,omitempty"`
	// Checksum is the tool's checksum of the file (Flyway, plain).
	Checksum string `json:"checksum,omitempty"`
	// Failed is set for a row the tool recorded as failed (Flyway
	// success = false, a plain migration that did not finish).
	Failed bool `json:"failed,omitempty"`
	// Dirty is golang-migrate's flag: the migration started and did not
	// finish; the tool refuses to run until it is fixed.
	Dirty bool `json:"dirty,omitempty"`
	// Baseline marks Flyway's baseline row: every version up to it counts
	// as applied.
	Baseline bool `json:"baseline,omitempty"`
}

// DefaultHistoryTable returns the tool's own history table.
func DefaultHistoryTable(tool string) string {
	switch tool {
	case "flyway":
		return "flyway_schema_history"
	case "goose":
		return "goose_db_version"
	case "golang-migrate", "dbmate":
		return "schema_migrations"
	}
	return PlainTable
}

// PlainTable is the history table of tool plain, which cutover owns.
const PlainTable = "cutover_schema_migrations"

// quoteTable quotes a table name, schema-qualified on PostgreSQL.
func quoteTable(d sqlparse.Dialect, name string) string {
	parts := strings.Split(name, ".")
	for i, p := range parts {
		if d == sqlparse.Postgres {
			parts[i] = `"` + strings.ReplaceAll(p, `"`, `""`) + `"`
		} else {
			parts[i] = "`" + strings.ReplaceAll(p, "`", "``") + "`"
		}
	}
	return strings.Join(parts, ".")
}

// tableExists reports whether the history table exists, read-only.
func tableExists(ctx context.Context, db *sql.DB, d sqlparse.Dialect, name string) (bool, error) {
	var n int
	var err error
	if d == sqlparse.Postgres {
		err = db.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT to_regclass($1) AS r) x WHERE r IS NOT NULL`, quoteTable(d, name)).Scan(&n)
	} else {
		err = db.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?`, name).Scan(&n)
	}
	return n > 0, err
}

// ReadHistory reads the tool's history table; a table that does not exist
// yet is an empty history (nothing applied). It only reads.
func ReadHistory(ctx context.Context, db *sql.DB, d sqlparse.Dialect, tool, table string) ([]Applied, bool, error) {
	if table == "" {
		table = DefaultHistoryTable(tool)
	}
	ok, err := tableExists(ctx, db, d, table)
	if err != nil || !ok {
		return nil, false, err
	}
	q := quoteTable(d, table)
	var rows []Applied
	switch tool {
	case "flyway":
		rows, err = readFlyway(ctx, db, q)
	case "golang-migrate":
		rows, err = readGolangMigrate(ctx, db, q)
	case "goose":
		rows, err = readGoose(ctx, db, q)
	case "dbmate":
		rows, err = readVersions(ctx, db, "SELECT version FROM "+q)
	case "plain":
		rows, err = readPlain(ctx, db, q)
	default:
		return nil, false, fmt.Errorf("%w: unknown tool %q", ErrHistory, tool)
	}
	if err != nil {
		return nil, true, fmt.Errorf("%w: read %s as %s writes it: %v", ErrHistory, table, tool, err)
	}
	return rows, true, nil
}

func readFlyway(ctx context.Context, db *sql.DB, q string) ([]Applied, error) {
	rs, err := db.QueryContext(ctx, "SELECT version, description, type, checksum, success FROM "+q+" ORDER BY installed_rank")
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []Applied
	for rs.Next() {
		var version, desc, typ sql.NullString
		var sum sql.NullInt64
		var success bool
		if err := rs.Scan(&version, &desc, &typ, &sum, &success); err != nil {
			return nil, err
		}
		switch typ.String {
		case "SCHEMA", "DELETE", "UNDO_SQL", "UNDO_JDBC", "UNDO_SCRIPT":
			continue
		}
		a := Applied{Version: version.String, Name: desc.String, Failed: !success, Baseline: strings.Contains(typ.String, "BASELINE")}
		if sum.Valid {
			a.Checksum = strconv.FormatInt(sum.Int64, 10)
		}
		out = append(out, a)
	}
	return out, rs.Err()
}

func readGolangMigrate(ctx context.Context, db *sql.DB, q string) ([]Applied, error) {
	rs, err := db.QueryContext(ctx, "SELECT version, dirty FROM "+q)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []Applied
	for rs.Next() {
		var v int64
		var dirty bool
		if err := rs.Scan(&v, &dirty); err != nil {
			return nil, err
		}
		out = append(out, Applied{Version: strconv.FormatInt(v, 10), Dirty: dirty})
	}
	return out, rs.Err()
}

// readGoose keeps, per version, goose's latest row: is_applied false means
// it was rolled back.
func readGoose(ctx context.Context, db *sql.DB, q string) ([]Applied, error) {
	rs, err := db.QueryContext(ctx, "SELECT version_id, is_applied FROM "+q+" ORDER BY id")
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	state := map[int64]bool{}
	var order []int64
	for rs.Next() {
		var v int64
		var applied bool
		if err := rs.Scan(&v, &applied); err != nil {
			return nil, err
		}
		if _, ok := state[v]; !ok {
			order = append(order, v)
		}
		state[v] = applied
	}
	if err := rs.Err(); err != nil {
		return nil, err
	}
	var out []Applied
	for _, v := range order {
		if v != 0 && state[v] {
			out = append(out, Applied{Version: strconv.FormatInt(v, 10)})
		}
	}
	return out, nil
}

func readVersions(ctx context.Context, db *sql.DB, query string) ([]Applied, error) {
	rs, err := db.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []Applied
	for rs.Next() {
		var v string
		if err := rs.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, Applied{Version: v})
	}
	return out, rs.Err()
}

func readPlain(ctx context.Context, db *sql.DB, q string) ([]Applied, error) {
	rs, err := db.QueryContext(ctx, "SELECT version, name, checksum, success FROM "+q+" ORDER BY applied_at, version")
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []Applied
	for rs.Next() {
		var a Applied
		var success bool
		if err := rs.Scan(&a.Version, &a.Name, &a.Checksum, &success); err != nil {
			return nil, err
		}
		a.Failed = !success
		out = append(out, a)
	}
	return out, rs.Err()
}
