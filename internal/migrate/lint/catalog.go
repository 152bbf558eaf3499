package lint

import "github.com/cutover-dev/cutover/internal/migrate/sqlparse"

// Catalog gives the lint read-only facts about the live database the
// migrations will run on. With facts it can judge more precisely: a type
// change it knows the old type of, a rewrite of a table it knows is small,
// a server version it knows. Every method may answer "unknown"; the lint
// then judges as it does offline. Implementations must be safe for
// concurrent use; the lint calls them from one goroutine per Lint call.
type Catalog interface {
	// Server returns the server's flavour and version; the zero Server
	// when unknown.
	Server() Server
	// Table returns what is known of the table named as the migration
	// names it (schema-qualified when it is; lower case for MySQL), and
	// false when the table is unknown to the catalog.
	Table(name string) (Table, bool)
}

// Server describes the database server.
type Server struct {
	// Flavour is sqlparse.MySQL, MariaDB or Postgres; 0 when unknown.
	Flavour sqlparse.Dialect
	// Major and Minor are its version (PostgreSQL 16.2: 16, 2; MariaDB
	// 10.11.6: 10, 11); 0 when unknown.
	Major, Minor int
}

// Table is what a catalog knows of one table.
type Table struct {
	Name string
	// Rows is the estimated row count (PostgreSQL reltuples, MySQL
	// information_schema.TABLES.TABLE_ROWS); negative when unknown.
	Rows int64
	// Columns in table order; nil when unknown.
	Columns []Column
}

// Column is what a catalog knows of one column.
type Column struct {
	Name string
	// Type as sqlparse.ParseType reads the server's name for it
	// (information_schema COLUMN_TYPE, PostgreSQL format_type).
	Type     sqlparse.Type
	Nullable bool
	// HasDefault is set when the column has a default (or is generated).
	HasDefault bool
	Default    string
}

// column returns the column named name.
func (t Table) column(name string) (Column, bool) {
	for _, c := range t.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}

// StaticCatalog is a Catalog of fixed facts, for tests and for callers
// that gathered the facts beforehand. The zero value knows nothing.
type StaticCatalog struct {
	Srv    Server
	Tables map[string]Table
}

// Server returns c.Srv.
func (c *StaticCatalog) Server() Server { return c.Srv }

// Table returns c.Tables[name].
func (c *StaticCatalog) Table(name string) (Table, bool) {
	t, ok := c.Tables[name]
	return t, ok
}
