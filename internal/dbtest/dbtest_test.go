package dbtest

import (
	"strings"
	"testing"

	"github.com/cutover-dev/cutover/internal/migrate/sqlparse"
)

// Each test database is empty and its own: a table made in one is not in
// another, and the database is gone after the test.
func TestFreshDatabases(t *testing.T) {
	for _, d := range []sqlparse.Dialect{sqlparse.MariaDB, sqlparse.Postgres} {
		t.Run(d.String(), func(t *testing.T) {
			var first *DB
			t.Run("a", func(t *testing.T) {
				first = New(t, d)
				first.Exec(t, "CREATE TABLE widgets (id int primary key)", "INSERT INTO widgets VALUES (1)")
			})
			b := New(t, d)
			if b.Name == first.Name || !strings.HasPrefix(b.Name, "t_testfreshdatabases_") {
				t.Fatalf("names %q and %q", first.Name, b.Name)
			}
			var n int
			q := "SELECT count(*) FROM information_schema.tables WHERE table_name = 'widgets'"
			if err := b.SQL.QueryRow(q).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Fatalf("widgets seen from a fresh database (%d): the first one was not dropped or is shared", n)
			}
			var dbs int
			dq := "SELECT count(*) FROM information_schema.schemata WHERE schema_name = ?"
			if d == sqlparse.Postgres {
				dq = "SELECT count(*) FROM pg_database WHERE datname = $1"
			}
			if err := b.SQL.QueryRow(dq, first.Name).Scan(&dbs); err != nil {
				t.Fatal(err)
			}
			if dbs != 0 {
				t.Fatalf("database %s is still there after its test", first.Name)
			}
		})
	}
}
