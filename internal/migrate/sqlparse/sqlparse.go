// Package sqlparse reads migration files of MySQL, MariaDB and PostgreSQL
// into statements and the schema changes each one makes, in one small model
// that does not depend on the dialect, for the migration lint to judge.
//
// The dialects are read with real parsers, not patterns:
//
//   - MySQL and MariaDB: github.com/pingcap/tidb/pkg/parser, the MySQL
//     grammar TiDB serves. Chosen over vitess.io/vitess/go/vt/sqlparser
//     because it reads MariaDB's IF [NOT] EXISTS on columns and indexes and
//     CREATE SEQUENCE, which vitess rejects; it costs about 2.6 MB more in
//     the cutover binary (measured: +11.9 MB against vitess's +9.3 MB).
//     Neither reads MariaDB's ALGORITHM=NOCOPY, ALTER ONLINE TABLE or
//     CREATE OR REPLACE TABLE, and it rejects MySQL 8's INVISIBLE columns
//     and CREATE TRIGGER; such statements become a statement with Err set,
//     never a crash.
//   - PostgreSQL: github.com/pganalyze/pg_query_go/v6, PostgreSQL's own
//     parser compiled in with cgo (+7 MB, parses in microseconds, no start-up
//     cost). The wasm build of the same parser (github.com/wasilibs/go-pgquery)
//     avoids cgo but is not served by the module proxy here and costs about a
//     second and 270 MB to start. A build without cgo still compiles: Parse
//     then returns ErrUnavailable for PostgreSQL.
//
// Both together cost cmd/cutover 19.6 MB (27.7 MB to 47.4 MB; stripped 19.3
// to 34.6 MB). An idle "cutover serve" grows from 21.5 to 32.3 MB RSS, of
// which 1.1 MB is private memory and the rest clean pages of the binary the
// kernel can drop. Nothing here runs a parser before it is first used.
//
// Every function here is safe for concurrent use.
package sqlparse

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnavailable reports a dialect whose parser is not in this build
// (PostgreSQL in a build without cgo).
var ErrUnavailable = errors.New("dialect not available in this build")

// Dialect is the SQL dialect of a migration file.
type Dialect int

// Dialects.
const (
	MySQL Dialect = iota + 1
	MariaDB
	Postgres
)

// String returns the dialect's name as the command line spells it.
func (d Dialect) String() string {
	switch d {
	case MySQL:
		return "mysql"
	case MariaDB:
		return "mariadb"
	case Postgres:
		return "postgres"
	}
	return fmt.Sprintf("dialect(%d)", int(d))
}

// IsMySQL reports whether d is MySQL or MariaDB.
func (d Dialect) IsMySQL() bool { return d == MySQL || d == MariaDB }

// ParseDialect reads a dialect name: mysql, mariadb, postgres (or postgresql, pg).
func ParseDialect(s string) (Dialect, error) {
	switch strings.ToLower(s) {
	case "mysql":
		return MySQL, nil
	case "mariadb":
		return MariaDB, nil
	case "postgres", "postgresql", "pg":
		return Postgres, nil
	}
	return 0, fmt.Errorf("unknown dialect %q; use mysql, mariadb or postgres", s)
}

// Script is one parsed migration file.
type Script struct {
	// Statements in file order.
	Statements []Statement
	// Comments are the file's line and block comments, in file order.
	Comments []Comment
}

// Comment is one comment of a file, without its markers.
type Comment struct {
	Offset int // byte offset of the comment's first marker
	Line   int // 1-based line of Offset
	Text   string
}

// Kind is what a statement is, as far as the lint cares.
type Kind int

// Statement kinds.
const (
	KindOther  Kind = iota // DML, SET, anything that changes no schema
	KindDDL                // changes the schema
	KindBegin              // opens a transaction
	KindCommit             // ends a transaction (COMMIT or ROLLBACK)
)

// Statement is one statement of a file.
type Statement struct {
	Offset  int    // byte offset of its first token in the file
	Line    int    // 1-based line of Offset
	EndLine int    // 1-based line of its last byte
	Text    string // its text, without the delimiter
	Kind    Kind
	// Ops are the schema changes it makes, in order.
	Ops []Op
	// Err is set when the parser cannot read the statement; Ops is then empty.
	Err error
	// Algorithm and Lock are MySQL's ALGORITHM= and LOCK= clauses,
	// upper case, "" when absent.
	Algorithm, Lock string
}

// OpKind is one kind of schema change.
type OpKind int

// Schema changes. Table is set on every kind but the index and type ones
// where the statement does not name a table.
const (
	OpCreateTable        OpKind = iota + 1 // Columns: its columns
	OpDropTable                            // Object: "table", "view" or "materialized view"
	OpRenameTable                          // NewName
	OpAddColumn                            // Column
	OpDropColumn                           // Name
	OpRenameColumn                         // Name, NewName
	OpModifyColumn                         // Name (old name), Column (the whole new definition; MySQL MODIFY/CHANGE)
	OpAlterColumnType                      // Name, Column.Type (PostgreSQL ALTER COLUMN TYPE)
	OpSetNotNull                           // Name
	OpDropNotNull                          // Name
	OpSetDefault                           // Name, Column.Default
	OpDropDefault                          // Name
	OpAddConstraint                        // Constraint
	OpValidateConstraint                   // Name
	OpDropConstraint                       // Name
	OpCreateIndex                          // Name, Unique, Concurrent, Columns' names in Keys
	OpDropIndex                            // Name, Concurrent
	OpCreateEnum                           // Name, Values
	OpAddEnumValue                         // Name, Values[0]
	OpRenameEnumValue                      // Name, Values: old, new
	OpRewrite                              // Name: what rewrites the table (VACUUM FULL, SET TABLESPACE, CONVERT TO ...)
	OpOther                                // Name: a DDL statement the lint has no rule for
)

var opNames = map[OpKind]string{
	OpCreateTable: "create table", OpDropTable: "drop table", OpRenameTable: "rename table",
	OpAddColumn: "add column", OpDropColumn: "drop column", OpRenameColumn: "rename column",
	OpModifyColumn: "modify column", OpAlterColumnType: "alter column type", OpSetNotNull: "set not null",
	OpDropNotNull: "drop not null", OpSetDefault: "set default", OpDropDefault: "drop default",
	OpAddConstraint: "add constraint", OpValidateConstraint: "validate constraint", OpDropConstraint: "drop constraint",
	OpCreateIndex: "create index", OpDropIndex: "drop index", OpCreateEnum: "create enum",
	OpAddEnumValue: "add enum value", OpRenameEnumValue: "rename enum value", OpRewrite: "rewrite", OpOther: "other",
}

// String names the change.
func (k OpKind) String() string {
	if s, ok := opNames[k]; ok {
		return s
	}
	return fmt.Sprintf("op(%d)", int(k))
}

// Op is one schema change of a statement.
type Op struct {
	Kind OpKind
	// Table is the table changed, as written (schema-qualified when it was),
	// lower case for MySQL; PostgreSQL's parser already folds unquoted names.
	Table string
	// Name is the column, index, constraint or type the change is about.
	Name    string
	NewName string
	// Object says what OpDropTable drops: "table", "view", "materialized view".
	Object     string
	Column     *Column     // OpAddColumn, OpModifyColumn, OpAlterColumnType, OpSetDefault
	Columns    []Column    // OpCreateTable
	Constraint *Constraint // OpAddConstraint
	Keys       []string    // OpCreateIndex: the indexed columns
	Values     []string    // enum values
	Unique     bool        // OpCreateIndex
	Concurrent bool        // OpCreateIndex, OpDropIndex: CONCURRENTLY
	IfExists   bool        // IF EXISTS / IF NOT EXISTS
}

// Column is a column definition.
type Column struct {
	Name string
	Type Type
	// NotNull is set by NOT NULL or PRIMARY KEY.
	NotNull    bool
	HasDefault bool
	// Default is the default expression's text ("" for none).
	Default string
	// Volatile: the default is computed per row (PostgreSQL: a volatile
	// function such as random() or gen_random_uuid(), a serial type or an
	// identity); MaybeVolatile: it calls a function whose volatility is not known.
	Volatile, MaybeVolatile bool
	// Generated: a generated column stored in the table (STORED, or any
	// generated column for MySQL's purposes of a table copy).
	Generated bool
	// Unique, PrimaryKey, Check and References are inline constraints.
	Unique, PrimaryKey, Check bool
	References                string
}

// Type is a column type, normalised enough to compare two of them.
type Type struct {
	// Name is the base type, lower case, canonical for the dialect
	// (PostgreSQL: int4 is "integer", varchar is "character varying").
	Name string
	// Params are the numeric modifiers: length, or precision and scale.
	Params   []int
	Unsigned bool
	// Values are an ENUM's or SET's values (MySQL), in order.
	Values []string
	// Array is set for PostgreSQL arrays.
	Array bool
}

// String renders the type as SQL.
func (t Type) String() string {
	var b strings.Builder
	b.WriteString(t.Name)
	if len(t.Values) > 0 {
		b.WriteString("(")
		for i, v := range t.Values {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString("'" + strings.ReplaceAll(v, "'", "''") + "'")
		}
		b.WriteString(")")
	} else if len(t.Params) > 0 {
		b.WriteString("(")
		for i, p := range t.Params {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "%d", p)
		}
		b.WriteString(")")
	}
	if t.Unsigned {
		b.WriteString(" unsigned")
	}
	if t.Array {
		b.WriteString("[]")
	}
	return b.String()
}

// Equal reports whether t and u are the same type.
func (t Type) Equal(u Type) bool { return t.String() == u.String() }

// ConstraintKind is the kind of a table constraint.
type ConstraintKind int

// Constraint kinds.
const (
	ConstraintUnique ConstraintKind = iota + 1
	ConstraintPrimaryKey
	ConstraintForeignKey
	ConstraintCheck
	ConstraintExclusion
	ConstraintIndex // MySQL ADD INDEX / KEY (not a constraint, but added the same way)
)

// String names the constraint kind.
func (k ConstraintKind) String() string {
	switch k {
	case ConstraintUnique:
		return "unique"
	case ConstraintPrimaryKey:
		return "primary key"
	case ConstraintForeignKey:
		return "foreign key"
	case ConstraintCheck:
		return "check"
	case ConstraintExclusion:
		return "exclusion"
	case ConstraintIndex:
		return "index"
	}
	return fmt.Sprintf("constraint(%d)", int(k))
}

// Constraint is a table constraint being added.
type Constraint struct {
	Kind ConstraintKind
	Name string
	// Keys are the columns it covers (for CHECK: none).
	Keys []string
	// References is the referenced table of a foreign key.
	References string
	// NotValid: PostgreSQL's NOT VALID (existing rows are not checked).
	NotValid bool
	// UsingIndex: PostgreSQL's ADD CONSTRAINT ... USING INDEX (built before).
	UsingIndex string
}

// Parse reads src, a migration file of dialect d. A statement the parser
// cannot read gets Err and the rest of the file is still read; Parse itself
// fails only with ErrUnavailable.
func Parse(d Dialect, src string) (*Script, error) {
	switch {
	case d.IsMySQL():
		return parseMySQL(d, src), nil
	case d == Postgres:
		return parsePostgres(src)
	}
	return nil, fmt.Errorf("unknown dialect %v", d)
}
