// Package dbtest gives each test a fresh, empty database of its own on the
// test servers .ci/databases.sh starts: one MariaDB and one PostgreSQL,
// named by the DSNs in CUTOVER_TEST_MYSQL_DSN and CUTOVER_TEST_POSTGRES_DSN.
// The database is dropped when the test ends.
//
// Without the variable a test fails under CI=true and is skipped elsewhere;
// to run the tests locally:
//
//	source .ci/databases.sh && cutover_db_start
//	go test ./internal/migrate/...
//	cutover_db_stop
//
// It is imported by tests only.
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"github.com/cutover-dev/cutover/internal/migrate/sqlparse"
)

// Environment variables naming the test servers.
const (
	MySQLEnv    = "CUTOVER_TEST_MYSQL_DSN"
	PostgresEnv = "CUTOVER_TEST_POSTGRES_DSN"
)

// DB is one fresh database of one test.
type DB struct {
	// Dialect is sqlparse.MariaDB or sqlparse.Postgres.
	Dialect sqlparse.Dialect
	// Name is the database's name.
	Name string
	// DSN connects to it, in the driver's form (go-sql-driver/mysql, or
	// a postgres:// URL for pgx).
	DSN string
	// SQL is a pool connected to it, closed when the test ends.
	SQL *sql.DB
}

// Exec runs statements on the database and fails the test on an error.
func (d *DB) Exec(t testing.TB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := d.SQL.Exec(s); err != nil {
			t.Fatalf("%s: %v\n%s", d.Dialect, err, s)
		}
	}
}

// New returns a fresh database of the dialect's test server.
func New(t testing.TB, d sqlparse.Dialect) *DB {
	if d.IsMySQL() {
		return MariaDB(t)
	}
	return Postgres(t)
}

// MariaDB returns a fresh database on the test MariaDB.
func MariaDB(t testing.TB) *DB {
	t.Helper()
	base := dsn(t, MySQLEnv)
	cfg, err := mysql.ParseDSN(base)
	if err != nil {
		t.Fatalf("%s: %v", MySQLEnv, err)
	}
	name := dbName(t)
	admin := open(t, "mysql", base)
	defer admin.Close()
	if _, err := admin.Exec("CREATE DATABASE `" + name + "`"); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	cfg.DBName = name
	cfg.ParseTime = true
	db := &DB{Dialect: sqlparse.MariaDB, Name: name, DSN: cfg.FormatDSN()}
	db.SQL = open(t, "mysql", db.DSN)
	t.Cleanup(func() {
		db.SQL.Close()
		drop(t, "mysql", base, "DROP DATABASE IF EXISTS `"+name+"`")
	})
	return db
}

// Postgres returns a fresh database on the test PostgreSQL.
func Postgres(t testing.TB) *DB {
	t.Helper()
	base := dsn(t, PostgresEnv)
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s must be a postgres:// URL: %q", PostgresEnv, base)
	}
	name := dbName(t)
	admin := open(t, "pgx", base)
	defer admin.Close()
	if _, err := admin.Exec(`CREATE DATABASE "` + name + `"`); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	u.Path = "/" + name
	db := &DB{Dialect: sqlparse.Postgres, Name: name, DSN: u.String()}
	db.SQL = open(t, "pgx", db.DSN)
	t.Cleanup(func() {
		db.SQL.Close()
		drop(t, "pgx", base, `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`)
	})
	return db
}

// dsn returns the environment variable's DSN, or ends the test without it.
func dsn(t testing.TB, env string) string {
	t.Helper()
	v := os.Getenv(env)
	if v != "" {
		return v
	}
	msg := env + " is not set: start the test databases with `source .ci/databases.sh && cutover_db_start`"
	if os.Getenv("CI") != "" {
		t.Fatal(msg + " (required in CI)")
	}
	t.Skip(msg)
	return ""
}

func open(t testing.TB, driver, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatalf("open %s: %v", driver, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		t.Fatalf("connect to the test %s server: %v (is it running? see .ci/databases.sh)", driver, err)
	}
	return db
}

// drop runs a DROP DATABASE on a connection of its own.
func drop(t testing.TB, driver, dsn, stmt string) {
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Errorf("drop test database: %v", err)
		return
	}
	defer db.Close()
	if _, err := db.Exec(stmt); err != nil {
		t.Errorf("%s: %v", stmt, err)
	}
}

var notWord = regexp.MustCompile(`[^a-z0-9]+`)

// dbName returns a new database name from the test's name: t_<name>_<random>,
// at most 63 characters (PostgreSQL's limit; MySQL's is 64).
func dbName(t testing.TB) string {
	n := notWord.ReplaceAllString(strings.ToLower(t.Name()), "_")
	if len(n) > 48 {
		n = n[len(n)-48:]
	}
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return fmt.Sprintf("t_%s_%s", strings.Trim(n, "_"), hex.EncodeToString(b[:]))
}
