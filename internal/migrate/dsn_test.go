package migrate

import (
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/migrate/sqlparse"
)

// The timeouts go into the DSN in the form it is written in, where the
// tool's driver makes them session settings.
func TestAddTimeouts(t *testing.T) {
	lock, stmt := 1500*time.Millisecond, 30*time.Second
	for _, c := range []struct {
		d         sqlparse.Dialect
		dsn, want string
	}{
		{sqlparse.Postgres, "postgres://u:p@db/app?sslmode=disable", "postgres://u:p@db/app?options=-c%20lock_timeout%3D1500%20-c%20statement_timeout%3D30000&sslmode=disable"},
		{sqlparse.Postgres, "postgres://u@db/app?options=-c%20search_path%3Dapp", "postgres://u@db/app?options=-c%20search_path%3Dapp%20-c%20lock_timeout%3D1500%20-c%20statement_timeout%3D30000"},
		{sqlparse.Postgres, "jdbc:postgresql://db:5432/app?user=u", "jdbc:postgresql://db:5432/app?options=-c%20lock_timeout%3D1500%20-c%20statement_timeout%3D30000&user=u"},
		{sqlparse.Postgres, "host=db dbname=app", "host=db dbname=app options='-c lock_timeout=1500 -c statement_timeout=30000'"},
		{sqlparse.MariaDB, "u:p@tcp(db:3306)/app", "u:p@tcp(db:3306)/app?lock_wait_timeout=2&innodb_lock_wait_timeout=2&max_statement_time=30"},
		{sqlparse.MySQL, "mysql://u:p@db:3306/app?tls=false", "mysql://u:p@db:3306/app?tls=false&lock_wait_timeout=2&innodb_lock_wait_timeout=2"},
		{sqlparse.MariaDB, "jdbc:mariadb://db:3306/app?user=u", "jdbc:mariadb://db:3306/app?user=u&sessionVariables=lock_wait_timeout%3D2%2Cinnodb_lock_wait_timeout%3D2%2Cmax_statement_time%3D30"},
	} {
		got, err := AddTimeouts(c.d, c.dsn, lock, stmt)
		if err != nil || got != c.want {
			t.Errorf("%s %s:\n got %s %v\nwant %s", c.d, c.dsn, got, err, c.want)
		}
	}
	if _, err := AddTimeouts(sqlparse.Postgres, "host=db options='-c x=1'", lock, 0); err == nil {
		t.Error("a keyword DSN with options of its own is refused, not overridden")
	}
}

// Cutover's own connection reads every form the tools use.
func TestDriverDSN(t *testing.T) {
	for _, c := range []struct {
		d         sqlparse.Dialect
		dsn, want string
	}{
		{sqlparse.MySQL, "mysql://u:p@db:3307/app", "u:p@tcp(db:3307)/app?parseTime=true"},
		{sqlparse.MySQL, "mysql://u:p@tcp(db:3306)/app", "u:p@tcp(db:3306)/app?parseTime=true"},
		{sqlparse.MySQL, "jdbc:mysql://db/app?user=u&password=p", "u:p@tcp(db:3306)/app?parseTime=true"},
	} {
		_, got, err := driverDSN(c.d, c.dsn, false)
		if err != nil || got != c.want {
			t.Errorf("%s: got %s %v, want %s", c.dsn, got, err, c.want)
		}
	}
}
