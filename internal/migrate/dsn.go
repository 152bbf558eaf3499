package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"github.com/cutover-dev/cutover/internal/migrate/sqlparse"
)

// ErrDSN reports a DSN that cannot be read. Its messages never quote the
// DSN, which holds a password.
var ErrDSN = errors.New("bad DSN")

// The DSN forms cutover reads, as migration tools write them:
//
//	PostgreSQL: postgres://user:pass@host:5432/db?sslmode=disable (also postgresql://),
//	            host=... user=... dbname=... (libpq keywords),
//	            jdbc:postgresql://host:5432/db?user=u&password=p (Flyway)
//	MySQL/MariaDB: user:pass@tcp(host:3306)/db (go-sql-driver, goose),
//	            mysql://user:pass@tcp(host:3306)/db (golang-migrate),
//	            mysql://user:pass@host:3306/db (dbmate),
//	            jdbc:mysql://host:3306/db?user=u&password=p, jdbc:mariadb://... (Flyway)

// Open connects to the database for reading: the history table and the
// catalog. The session is read-only (PostgreSQL default_transaction_read_only,
// MySQL transaction_read_only, MariaDB tx_read_only), so nothing cutover
// reads with it can change the database. It pings before it returns.
func Open(ctx context.Context, d sqlparse.Dialect, dsn string) (*sql.DB, error) {
	driver, conn, err := driverDSN(d, dsn, true)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open(driver, conn)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrDSN, redact(err.Error(), dsn))
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("%w: %s", ErrUnreachable, redact(err.Error(), dsn))
	}
	return db, nil
}

// OpenWrite connects for applying migrations (tool plain), with the lock
// and statement timeouts set on the session.
func OpenWrite(ctx context.Context, d sqlparse.Dialect, dsn string, lock, stmt time.Duration) (*sql.DB, error) {
	withTimeouts, err := AddTimeouts(d, dsn, lock, stmt)
	if err != nil {
		return nil, err
	}
	driver, conn, err := driverDSN(d, withTimeouts, false)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open(driver, conn)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrDSN, redact(err.Error(), dsn))
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("%w: %s", ErrUnreachable, redact(err.Error(), dsn))
	}
	return db, nil
}

// ErrUnreachable reports a database cutover cannot connect to.
var ErrUnreachable = errors.New("database unreachable")

// driverDSN returns the database/sql driver and its DSN for dsn in any of
// the forms above; readOnly makes the session read-only.
func driverDSN(d sqlparse.Dialect, dsn string, readOnly bool) (string, string, error) {
	dsn = strings.TrimSpace(dsn)
	if d == sqlparse.Postgres {
		dsn = strings.TrimPrefix(dsn, "jdbc:")
		if readOnly {
			var err error
			if dsn, err = addPostgresOptions(dsn, "-c default_transaction_read_only=on"); err != nil {
				return "", "", err
			}
		}
		return "pgx", dsn, nil
	}
	cfg, err := mysqlConfig(dsn)
	if err != nil {
		return "", "", err
	}
	cfg.ParseTime = true
	if readOnly {
		if cfg.Params == nil {
			cfg.Params = map[string]string{}
		}
		if d == sqlparse.MariaDB {
			cfg.Params["tx_read_only"] = "1"
		} else {
			cfg.Params["transaction_read_only"] = "1"
		}
	}
	return "mysql", cfg.FormatDSN(), nil
}

// mysqlConfig reads a MySQL DSN in go-sql-driver form or as a URL.
func mysqlConfig(dsn string) (*mysql.Config, error) {
	s := strings.TrimPrefix(dsn, "jdbc:")
	for _, scheme := range []string{"mysql://", "mariadb://"} {
		if rest, ok := strings.CutPrefix(s, scheme); ok {
			if strings.Contains(rest, "@tcp(") || strings.Contains(rest, "@unix(") || strings.HasPrefix(rest, "tcp(") {
				s = rest
				break
			}
			return mysqlFromURL(scheme + rest)
		}
	}
	cfg, err := mysql.ParseDSN(s)
	if err != nil {
		return nil, fmt.Errorf("%w: not a MySQL DSN (user:pass@tcp(host:3306)/db or mysql://user:pass@host:3306/db): %s", ErrDSN, redact(err.Error(), dsn))
	}
	return cfg, nil
}

// mysqlFromURL reads mysql://user:pass@host:port/db?params (dbmate) and
// jdbc's mysql://host:port/db?user=u&password=p.
func mysqlFromURL(s string) (*mysql.Config, error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%w: not a mysql:// URL with a host", ErrDSN)
	}
	cfg := mysql.NewConfig()
	cfg.Net = "tcp"
	cfg.Addr = u.Host
	if u.Port() == "" {
		cfg.Addr = u.Host + ":3306"
	}
	cfg.DBName = strings.TrimPrefix(u.Path, "/")
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
	}
	q := u.Query()
	if v := q.Get("user"); v != "" {
		cfg.User = v
	}
	if v := q.Get("password"); v != "" {
		cfg.Passwd = v
	}
	if v := q.Get("socket"); v != "" {
		cfg.Net, cfg.Addr = "unix", v
	}
	return cfg, nil
}

// AddTimeouts returns dsn with the lock and statement timeouts set as
// session variables in the form the DSN is written in, so that the
// migration tool's own connection uses them (0: leave unset):
//
//   - PostgreSQL URLs (also jdbc:postgresql://) get options=-c lock_timeout=MS
//     -c statement_timeout=MS; keyword DSNs an options='...' keyword.
//   - MySQL and MariaDB in go-sql-driver form, or mysql:// URLs, get the
//     parameters lock_wait_timeout (metadata locks, which DDL waits for),
//     innodb_lock_wait_timeout (row locks), in whole seconds rounded up,
//     and on MariaDB max_statement_time (seconds); go-sql-driver sets
//     unknown parameters as session variables.
//   - jdbc:mysql:// and jdbc:mariadb:// get sessionVariables=....
//
// MySQL proper has no statement timeout for DDL (max_execution_time bounds
// SELECT only), so StatementTimeout is not applied there.
func AddTimeouts(d sqlparse.Dialect, dsn string, lock, stmt time.Duration) (string, error) {
	dsn = strings.TrimSpace(dsn)
	if d == sqlparse.Postgres {
		var opts []string
		if lock > 0 {
			opts = append(opts, fmt.Sprintf("-c lock_timeout=%d", lock.Milliseconds()))
		}
		if stmt > 0 {
			opts = append(opts, fmt.Sprintf("-c statement_timeout=%d", stmt.Milliseconds()))
		}
		if len(opts) == 0 {
			return dsn, nil
		}
		return addPostgresOptions(dsn, strings.Join(opts, " "))
	}
	vars := mysqlTimeoutVars(d, lock, stmt)
	if len(vars) == 0 {
		return dsn, nil
	}
	if strings.HasPrefix(dsn, "jdbc:") {
		var kv []string
		for _, v := range vars {
			kv = append(kv, v[0]+"="+v[1])
		}
		return appendQuery(dsn, "sessionVariables", strings.Join(kv, ",")), nil
	}
	if _, err := mysqlConfig(dsn); err != nil {
		return "", err
	}
	out := dsn
	for _, v := range vars {
		out = appendQuery(out, v[0], v[1])
	}
	return out, nil
}

// mysqlTimeoutVars returns the session variables for the timeouts.
func mysqlTimeoutVars(d sqlparse.Dialect, lock, stmt time.Duration) [][2]string {
	var vars [][2]string
	if lock > 0 {
		s := fmt.Sprint(int64(math.Ceil(lock.Seconds())))
		vars = append(vars, [2]string{"lock_wait_timeout", s}, [2]string{"innodb_lock_wait_timeout", s})
	}
	if stmt > 0 && d == sqlparse.MariaDB {
		vars = append(vars, [2]string{"max_statement_time", fmt.Sprintf("%g", stmt.Seconds())})
	}
	return vars
}

// appendQuery adds key=value (value query-escaped) to a DSN's query string.
func appendQuery(dsn, key, value string) string {
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + key + "=" + url.QueryEscape(value)
}

// addPostgresOptions adds server options (-c name=value) to a PostgreSQL
// DSN in URL or keyword form, after any it already has.
func addPostgresOptions(dsn, opts string) (string, error) {
	prefix := ""
	if rest, ok := strings.CutPrefix(dsn, "jdbc:"); ok {
		prefix, dsn = "jdbc:", rest
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("%w: not a postgres:// URL", ErrDSN)
		}
		q := u.Query()
		if old := q.Get("options"); old != "" {
			opts = old + " " + opts
		}
		q.Set("options", opts)
		u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
		return prefix + u.String(), nil
	}
	if !strings.Contains(dsn, "=") {
		return "", fmt.Errorf("%w: not a PostgreSQL DSN (postgres://user:pass@host:5432/db or host=... dbname=...)", ErrDSN)
	}
	// A later keyword wins in libpq and pgx: it would drop the DSN's own.
	if strings.Contains(dsn, "options=") {
		return "", fmt.Errorf("%w: the DSN sets options= itself; write it as a postgres:// URL so that cutover can add its own", ErrDSN)
	}
	return prefix + dsn + " options='" + strings.ReplaceAll(opts, "'", `\'`) + "'", nil
}

// redact removes the DSN and its password from a message.
func redact(msg, dsn string) string {
	if dsn == "" {
		return msg
	}
	msg = strings.ReplaceAll(msg, dsn, "<dsn>")
	if pw := password(dsn); len(pw) >= 3 {
		msg = strings.ReplaceAll(msg, pw, "<password>")
	}
	return msg
}

// password returns the password a DSN holds, or "".
func password(dsn string) string {
	s := strings.TrimPrefix(strings.TrimSpace(dsn), "jdbc:")
	if u, err := url.Parse(s); err == nil && u.Scheme != "" {
		if p, ok := u.User.Password(); ok {
			return p
		}
		if p := u.Query().Get("password"); p != "" {
			return p
		}
	}
	if cfg, err := mysql.ParseDSN(strings.TrimPrefix(strings.TrimPrefix(s, "mysql://"), "mariadb://")); err == nil {
		return cfg.Passwd
	}
	for _, f := range strings.Fields(s) {
		if v, ok := strings.CutPrefix(f, "password="); ok {
			return strings.Trim(v, "'")
		}
	}
	return ""
}
