package sqlparse

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestScanSplitsOutsideQuotesAndComments(t *testing.T) {
	tests := []struct {
		name string
		d    Dialect
		src  string
		want []string
	}{
		{"semicolons in strings and comments", MySQL,
			"-- a; b\nINSERT INTO t VALUES ('x;y', \"z;\", `q;`); # c;\n/* d; */ SELECT 1;",
			[]string{"INSERT INTO t VALUES ('x;y', \"z;\", `q;`)", "SELECT 1"}},
		{"backslash escapes a quote in MySQL", MySQL, `SELECT 'it\'s;'; SELECT 2`, []string{`SELECT 'it\'s;'`, "SELECT 2"}},
		{"DELIMITER changes the delimiter", MySQL,
			"DELIMITER //\nCREATE PROCEDURE p() BEGIN SELECT 1; END//\nDELIMITER ;\nSELECT 2;",
			[]string{"CREATE PROCEDURE p() BEGIN SELECT 1; END", "SELECT 2"}},
		{"goose StatementBegin keeps a block whole", MySQL,
			"-- +goose StatementBegin\nCREATE PROCEDURE p() BEGIN SELECT 1; END;\n-- +goose StatementEnd\nSELECT 2;",
			[]string{"CREATE PROCEDURE p() BEGIN SELECT 1; END;", "SELECT 2"}},
		{"dollar quotes and nested comments in PostgreSQL", Postgres,
			"DO $body$ BEGIN PERFORM 1; END $body$; /* a /* b; */ c; */ SELECT $1, E'x\\';';",
			[]string{"DO $body$ BEGIN PERFORM 1; END $body$", "SELECT $1, E'x\\';'"}},
		{"no statement", Postgres, "-- only a comment\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spans, _ := scan(tt.d, tt.src)
			var got []string
			for _, s := range spans {
				got = append(got, tt.src[s.start:s.end])
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestStatementLines(t *testing.T) {
	for _, d := range []Dialect{MySQL, Postgres} {
		sc, err := Parse(d, "-- header\n\nCREATE TABLE a (id int);\n\n  ALTER TABLE a\n    ADD COLUMN b int;\n")
		if err != nil {
			t.Fatal(err)
		}
		if len(sc.Statements) != 2 {
			t.Fatalf("%v: %d statements", d, len(sc.Statements))
		}
		if s := sc.Statements[1]; s.Line != 5 || s.EndLine != 6 || !strings.HasPrefix(s.Text, "ALTER") {
			t.Errorf("%v: second statement at lines %d-%d: %q", d, s.Line, s.EndLine, s.Text)
		}
		if len(sc.Comments) != 1 || sc.Comments[0].Text != "header" || sc.Comments[0].Line != 1 {
			t.Errorf("%v: comments %+v", d, sc.Comments)
		}
	}
}

func TestUnreadableStatementSpoilsOnlyItself(t *testing.T) {
	for _, d := range []Dialect{MySQL, MariaDB, Postgres} {
		sc, err := Parse(d, "ALTER TABLE a ADD COLUM x int;\nALTER TABLE a DROP COLUMN y;\n")
		if err != nil {
			t.Fatal(err)
		}
		if len(sc.Statements) != 2 || sc.Statements[0].Err == nil || sc.Statements[1].Err != nil {
			t.Fatalf("%v: %+v", d, sc.Statements)
		}
		if sc.Statements[0].Kind != KindDDL {
			t.Errorf("%v: an unreadable ALTER is kind %v, want DDL", d, sc.Statements[0].Kind)
		}
		if ops := sc.Statements[1].Ops; len(ops) != 1 || ops[0].Kind != OpDropColumn || ops[0].Name != "y" {
			t.Errorf("%v: ops %+v", d, ops)
		}
	}
}

func TestMySQLOps(t *testing.T) {
	sc, err := Parse(MariaDB, "ALTER TABLE Shop.Users ADD COLUMN IF NOT EXISTS Nick VARCHAR(40) NOT NULL DEFAULT 'x', "+
		"MODIFY age TINYINT UNSIGNED NULL, ALTER COLUMN s DROP DEFAULT, ADD CONSTRAINT fk FOREIGN KEY (o) REFERENCES orders (id), "+
		"ALGORITHM=INPLACE, LOCK=NONE")
	if err != nil {
		t.Fatal(err)
	}
	st := sc.Statements[0]
	if st.Err != nil || st.Algorithm != "INPLACE" || st.Lock != "NONE" {
		t.Fatalf("%+v", st)
	}
	want := []Op{
		{Kind: OpAddColumn, Table: "shop.users", Name: "nick", IfExists: true, Column: &Column{Name: "nick",
			Type: Type{Name: "varchar", Params: []int{40}}, NotNull: true, HasDefault: true, Default: "'x'"}},
		{Kind: OpModifyColumn, Table: "shop.users", Name: "age", Column: &Column{Name: "age", Type: Type{Name: "tinyint", Unsigned: true}}},
		{Kind: OpDropDefault, Table: "shop.users", Name: "s"},
		{Kind: OpAddConstraint, Table: "shop.users", Constraint: &Constraint{Kind: ConstraintForeignKey, Name: "fk", Keys: []string{"o"}, References: "orders"}},
	}
	if !reflect.DeepEqual(st.Ops, want) {
		t.Errorf("ops:\n got %+v\nwant %+v", st.Ops, want)
	}
}

func TestPostgresOps(t *testing.T) {
	sc, err := Parse(Postgres, `ALTER TABLE public.users ADD COLUMN c timestamptz DEFAULT clock_timestamp(),
		ADD COLUMN d int DEFAULT 1, ALTER COLUMN e TYPE varchar(20), ALTER COLUMN f SET NOT NULL,
		ADD CONSTRAINT k CHECK (d > 0) NOT VALID`)
	if err != nil {
		t.Fatal(err)
	}
	ops := sc.Statements[0].Ops
	if len(ops) != 5 {
		t.Fatalf("%+v", ops)
	}
	if c := ops[0].Column; ops[0].Table != "users" || !c.Volatile || c.Type.Name != "timestamptz" {
		t.Errorf("volatile default: %+v %+v", ops[0], c)
	}
	if c := ops[1].Column; c.Volatile || c.MaybeVolatile || c.Default != "1" {
		t.Errorf("constant default: %+v", c)
	}
	if ops[2].Kind != OpAlterColumnType || ops[2].Column.Type.String() != "varchar(20)" {
		t.Errorf("type change: %+v", ops[2])
	}
	if ops[3].Kind != OpSetNotNull || ops[4].Constraint == nil || !ops[4].Constraint.NotValid {
		t.Errorf("%+v %+v", ops[3], ops[4])
	}
}

func TestParseType(t *testing.T) {
	tests := []struct {
		d    Dialect
		sql  string
		want string
	}{
		{MySQL, "int(11) unsigned", "int unsigned"},
		{MySQL, "enum('a','b')", "enum('a','b')"},
		{MySQL, "decimal(10,2)", "decimal(10,2)"},
		{Postgres, "character varying(255)", "varchar(255)"},
		{Postgres, "timestamp with time zone", "timestamptz"},
		{Postgres, "int4[]", "integer[]"},
	}
	for _, tt := range tests {
		got, err := ParseType(tt.d, tt.sql)
		if err != nil || got.String() != tt.want {
			t.Errorf("ParseType(%v, %q) = %q, %v; want %q", tt.d, tt.sql, got, err, tt.want)
		}
	}
	if _, err := ParseType(MySQL, "not a type at all"); err == nil {
		t.Error("ParseType accepted nonsense")
	}
}

func TestParseDialect(t *testing.T) {
	for in, want := range map[string]Dialect{"mysql": MySQL, "MariaDB": MariaDB, "postgresql": Postgres, "pg": Postgres} {
		if got, err := ParseDialect(in); err != nil || got != want {
			t.Errorf("ParseDialect(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseDialect("oracle"); err == nil {
		t.Error("oracle accepted")
	}
	if _, err := Parse(Dialect(9), "SELECT 1"); err == nil || errors.Is(err, ErrUnavailable) {
		t.Errorf("unknown dialect: %v", err)
	}
}
