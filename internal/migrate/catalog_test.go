package migrate

import (
	"context"
	"strings"
	"testing"

	"github.com/cutover-dev/cutover/internal/dbtest"
	"github.com/cutover-dev/cutover/internal/migrate/lint"
	"github.com/cutover-dev/cutover/internal/migrate/sqlparse"
)

// The live catalog reports the server, row estimates and column facts, and
// the lint uses them: a NOT NULL the catalog knows of, and a small table's
// lock finding lowered to a note.
func TestLiveCatalog(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.String(), func(t *testing.T) {
			db := dbtest.New(t, d)
			db.Exec(t,
				"CREATE TABLE users (id int NOT NULL PRIMARY KEY, email varchar(200) NOT NULL, nick varchar(40) DEFAULT 'x', bio text)",
				"INSERT INTO users (id, email) VALUES (1, 'a@example.com'), (2, 'b@example.com'), (3, 'c@example.com')")
			if d == sqlparse.Postgres {
				db.Exec(t, "ANALYZE users")
			} else {
				db.Exec(t, "ANALYZE TABLE users")
			}
			rdb, err := Open(context.Background(), d, db.DSN)
			if err != nil {
				t.Fatal(err)
			}
			defer rdb.Close()
			cat, err := LoadCatalog(context.Background(), rdb, d)
			if err != nil {
				t.Fatal(err)
			}
			if cat.Srv.Flavour != d || cat.Srv.Major < 10 {
				t.Fatalf("server %+v", cat.Srv)
			}
			users, ok := cat.Table("users")
			if !ok || users.Rows != 3 || len(users.Columns) != 4 {
				t.Fatalf("users: %+v %v", users, ok)
			}
			if d == sqlparse.Postgres {
				if _, ok := cat.Table("public.users"); !ok {
					t.Fatal("public.users not known by its qualified name")
				}
			}
			email, nick, bio := users.Columns[1], users.Columns[2], users.Columns[3]
			if email.Nullable || email.HasDefault || email.Type.Name == "" || len(email.Type.Params) != 1 || email.Type.Params[0] != 200 {
				t.Errorf("email %+v", email)
			}
			if !nick.Nullable || !nick.HasDefault || !strings.Contains(nick.Default, "x") {
				t.Errorf("nick %+v", nick)
			}
			if !bio.Nullable || bio.HasDefault {
				t.Errorf("bio %+v", bio)
			}
			res, err := lint.Lint([]lint.File{{Path: "m.sql", Src: "ALTER TABLE users ADD COLUMN age int NOT NULL DEFAULT 0;"}},
				lint.Options{Dialect: d, Catalog: cat})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range res.Findings {
				if f.Severity == lint.SeverityError {
					t.Errorf("an added NOT NULL column with a default on a 3-row table: %+v", f)
				}
			}
		})
	}
}

// The read-only session refuses writes: nothing cutover reads with can
// change the database.
func TestOpenIsReadOnly(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.String(), func(t *testing.T) {
			db := dbtest.New(t, d)
			rdb, err := Open(context.Background(), d, db.DSN)
			if err != nil {
				t.Fatal(err)
			}
			defer rdb.Close()
			if _, err := rdb.Exec("CREATE TABLE t (id int)"); err == nil {
				t.Fatal("CREATE TABLE succeeded on the read-only session")
			}
			if _, err := rdb.Exec("INSERT INTO t2 VALUES (1)"); err == nil {
				t.Fatal("INSERT succeeded")
			}
		})
	}
}

// A database that cannot be reached is a clear error that never shows the
// password.
func TestOpenUnreachable(t *testing.T) {
	for _, c := range []struct {
		d   sqlparse.Dialect
		dsn string
	}{
		{sqlparse.MariaDB, "app:hunter22@tcp(127.0.0.1:1)/app"},
		{sqlparse.MariaDB, "mysql://app:hunter22@127.0.0.1:1/app"},
		{sqlparse.Postgres, "postgres://app:hunter22@127.0.0.1:1/app?connect_timeout=2"},
	} {
		_, err := Open(context.Background(), c.d, c.dsn)
		if err == nil || !strings.Contains(err.Error(), "database unreachable") || strings.Contains(err.Error(), "hunter22") {
			t.Errorf("%s: %v", c.d, err)
		}
	}
	_, err := Open(context.Background(), sqlparse.MariaDB, "not a dsn hunter22")
	if err == nil || strings.Contains(err.Error(), "hunter22") {
		t.Errorf("bad DSN: %v", err)
	}
}
