package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/cutover-dev/cutover/internal/migrate/lint"
	"github.com/cutover-dev/cutover/internal/migrate/sqlparse"
)

// LoadCatalog reads the facts the lint uses from the live database, in a
// few read-only queries: the server's flavour and version, and for every
// table of the connection's database (MySQL) or of the schemas in its
// search_path (PostgreSQL) the row estimate and each column's type,
// nullability and default. Tables are known by their name and, on
// PostgreSQL, also schema-qualified. The result is safe for concurrent use.
func LoadCatalog(ctx context.Context, db *sql.DB, d sqlparse.Dialect) (*lint.StaticCatalog, error) {
	srv, err := ServerOf(ctx, db, d)
	if err != nil {
		return nil, err
	}
	c := &lint.StaticCatalog{Srv: srv, Tables: map[string]lint.Table{}}
	if d == sqlparse.Postgres {
		err = loadPostgres(ctx, db, c)
	} else {
		err = loadMySQL(ctx, db, srv.Flavour, c)
	}
	if err != nil {
		return nil, fmt.Errorf("read the catalog: %w", err)
	}
	return c, nil
}

// ServerOf returns the server's flavour and version.
func ServerOf(ctx context.Context, db *sql.DB, d sqlparse.Dialect) (lint.Server, error) {
	var v string
	if err := db.QueryRowContext(ctx, "SELECT version()").Scan(&v); err != nil {
		return lint.Server{}, fmt.Errorf("read the server version: %w", err)
	}
	return parseServerVersion(d, v), nil
}

// parseServerVersion reads "10.11.6-MariaDB-0+deb12u1", "8.0.36" or
// "PostgreSQL 16.2 (Debian ...)".
func parseServerVersion(d sqlparse.Dialect, v string) lint.Server {
	s := lint.Server{Flavour: d}
	num := v
	if d == sqlparse.Postgres {
		num = strings.TrimPrefix(v, "PostgreSQL ")
	} else if strings.Contains(strings.ToLower(v), "mariadb") {
		s.Flavour = sqlparse.MariaDB
	} else {
		s.Flavour = sqlparse.MySQL
	}
	if i := strings.IndexAny(num, " -+("); i >= 0 {
		num = num[:i]
	}
	parts := strings.Split(num, ".")
	s.Major, _ = strconv.Atoi(parts[0])
	if len(parts) > 1 {
		s.Minor, _ = strconv.Atoi(parts[1])
	}
	return s
}

func loadMySQL(ctx context.Context, db *sql.DB, flavour sqlparse.Dialect, c *lint.StaticCatalog) error {
	rs, err := db.QueryContext(ctx, `SELECT TABLE_NAME, COALESCE(TABLE_ROWS, -1) FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'`)
	if err != nil {
		return err
	}
	for rs.Next() {
		var name string
		var rows int64
		if err := rs.Scan(&name, &rows); err != nil {
			rs.Close()
			return err
		}
		name = strings.ToLower(name)
		c.Tables[name] = lint.Table{Name: name, Rows: rows, Columns: []lint.Column{}}
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return err
	}
	rs, err = db.QueryContext(ctx, `SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION`)
	if err != nil {
		return err
	}
	defer rs.Close()
	for rs.Next() {
		var table, name, typ, nullable, extra string
		var def sql.NullString
		if err := rs.Scan(&table, &name, &typ, &nullable, &def, &extra); err != nil {
			return err
		}
		table = strings.ToLower(table)
		t, ok := c.Tables[table]
		if !ok {
			continue // a view's columns
		}
		col := lint.Column{Name: strings.ToLower(name), Nullable: nullable == "YES"}
		col.Type, _ = sqlparse.ParseType(flavour, typ)
		// MariaDB reports a nullable column without default as the text NULL.
		if def.Valid && !(def.String == "NULL" && flavour == sqlparse.MariaDB) {
			col.HasDefault, col.Default = true, def.String
		}
		if strings.Contains(strings.ToUpper(extra), "GENERATED") || strings.Contains(strings.ToLower(extra), "auto_increment") {
			col.HasDefault = true
		}
		t.Columns = append(t.Columns, col)
		c.Tables[table] = t
	}
	return rs.Err()
}

func loadPostgres(ctx context.Context, db *sql.DB, c *lint.StaticCatalog) error {
	rs, err := db.QueryContext(ctx, `
SELECT n.nspname, cl.relname, cl.reltuples::bigint, n.nspname = ANY (current_schemas(false)),
       a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
       a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '', COALESCE(pg_get_expr(ad.adbin, ad.adrelid), '')
FROM pg_class cl
JOIN pg_namespace n ON n.oid = cl.relnamespace
JOIN pg_attribute a ON a.attrelid = cl.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef ad ON ad.adrelid = cl.oid AND ad.adnum = a.attnum
WHERE cl.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
ORDER BY n.nspname, cl.relname, a.attnum`)
	if err != nil {
		return err
	}
	defer rs.Close()
	for rs.Next() {
		var schema, table, name, typ, def string
		var rows int64
		var visible, nullable, hasDef bool
		if err := rs.Scan(&schema, &table, &rows, &visible, &name, &typ, &nullable, &hasDef, &def); err != nil {
			return err
		}
		col := lint.Column{Name: name, Nullable: nullable, HasDefault: hasDef, Default: def}
		col.Type, _ = sqlparse.ParseType(sqlparse.Postgres, typ)
		keys := []string{schema + "." + table}
		if visible {
			keys = append(keys, table)
		}
		for _, k := range keys {
			t, ok := c.Tables[k]
			if !ok {
				// reltuples is -1 for a table never vacuumed or analyzed (PostgreSQL 14+).
				t = lint.Table{Name: k, Rows: rows, Columns: []lint.Column{}}
			}
			t.Columns = append(t.Columns, col)
			c.Tables[k] = t
		}
	}
	return rs.Err()
}
