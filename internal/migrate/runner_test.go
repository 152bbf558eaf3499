package migrate

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/dbtest"
	"github.com/cutover-dev/cutover/internal/migrate/lint"
	"github.com/cutover-dev/cutover/internal/migrate/sqlparse"
	"github.com/cutover-dev/cutover/internal/testutil"
)

// holdLock keeps a lock on users that ALTER TABLE must wait for: a reader
// inside an open transaction (PostgreSQL ACCESS SHARE, MySQL's metadata
// lock). The returned func releases it.
func holdLock(t *testing.T, db *dbtest.DB) func() {
	t.Helper()
	ctx := context.Background()
	conn, err := db.SQL.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := tx.QueryRow("SELECT count(*) FROM users").Scan(&n); err != nil {
		t.Fatal(err)
	}
	released := false
	release := func() {
		if !released {
			released = true
			tx.Rollback()
			conn.Close()
		}
	}
	t.Cleanup(release)
	return release
}

func runAsync(src Source, plan *Plan, opts RunOptions) (chan *RunResult, chan error) {
	res, errc := make(chan *RunResult, 1), make(chan error, 1)
	go func() {
		r, err := Run(context.Background(), src, plan, opts)
		res <- r
		errc <- err
	}()
	return res, errc
}

// Tool plain: cutover applies the expand files itself; a lock held by a
// reader makes the ALTER time out on the lock, and the retry after the
// reader is gone succeeds. The contract file is left for its phase.
func TestRunPlainRetriesLockTimeout(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.String(), func(t *testing.T) {
			db := dbtest.New(t, d)
			db.Exec(t, "CREATE TABLE users (id int PRIMARY KEY)")
			dir := writeFiles(t, map[string]string{
				"001_add_email.sql":     "ALTER TABLE users ADD COLUMN email varchar(200);\n",
				"002_add_index.sql":     "CREATE TABLE audit (id int PRIMARY KEY);\n",
				"contract/003_drop.sql": "ALTER TABLE users DROP COLUMN email;\n",
			})
			src := source(db, "plain", dir)
			st, err := Inspect(context.Background(), src)
			if err != nil {
				t.Fatal(err)
			}
			release := holdLock(t, db)
			var out testutil.SyncBuffer
			resc, errc := runAsync(src, st.Plan, RunOptions{Phase: lint.PhaseExpand, Output: &out, Backoff: 300 * time.Millisecond})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if !out.WaitFor(ctx, "lock timeout; retrying") {
				t.Fatalf("no lock timeout seen; output:\n%s", out.String())
			}
			release()
			res, err := <-resc, <-errc
			if err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			if res.LockTimeouts < 1 || res.Attempts < 2 || !slices.Equal(res.Migrations, []string{"001", "002"}) {
				t.Fatalf("result %+v", res)
			}
			st, err = Inspect(context.Background(), src)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(versions(st.Pending), []string{"003"}) || len(st.Problems) != 0 || len(st.Applied) != 2 {
				t.Fatalf("after expand: pending %v problems %v applied %v", versions(st.Pending), st.Problems, st.Applied)
			}
			if _, ok := st.Catalog().Table("audit"); !ok {
				t.Fatal("audit not created")
			}
		})
	}
}

// The lock timeout is retried only as often as lock_retries says, then
// the run fails with ErrLockTimeout and records nothing.
func TestRunPlainLockTimeoutGivesUp(t *testing.T) {
	d := sqlparse.Postgres
	db := dbtest.New(t, d)
	db.Exec(t, "CREATE TABLE users (id int PRIMARY KEY)")
	src := source(db, "plain", writeFiles(t, map[string]string{"001_a.sql": "ALTER TABLE users ADD COLUMN a int;"}))
	one := 1
	src.Config.LockRetries = &one
	st, err := Inspect(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	holdLock(t, db)
	res, err := Run(context.Background(), src, st.Plan, RunOptions{Phase: lint.PhaseExpand, Backoff: 10 * time.Millisecond})
	if !errors.Is(err, ErrLockTimeout) || res.LockTimeouts != 2 || res.Attempts != 2 {
		t.Fatalf("err %v result %+v", err, res)
	}
	var n int
	if err := db.SQL.QueryRow("SELECT count(*) FROM " + PlainTable).Scan(&n); err != nil || n != 0 {
		t.Fatalf("rows %d %v", n, err)
	}
}

// On MariaDB, a file that fails after one of its DDL statements committed
// is recorded as failed, and the next status refuses with the fix; a
// changed applied file is a checksum mismatch.
func TestRunPlainFailureIsRecorded(t *testing.T) {
	db := dbtest.New(t, sqlparse.MariaDB)
	dir := writeFiles(t, map[string]string{
		"001_ok.sql":  "CREATE TABLE a (id int);\n",
		"002_bad.sql": "CREATE TABLE b (id int);\nALTER TABLE nope ADD COLUMN x int;\n",
	})
	src := source(db, "plain", dir)
	st, err := Inspect(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Run(context.Background(), src, st.Plan, RunOptions{Phase: lint.PhaseExpand})
	if !errors.Is(err, ErrMigrationFailed) || !strings.Contains(err.Error(), "002_bad.sql") || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("got %v", err)
	}
	writeFile(t, dir, "001_ok.sql", "CREATE TABLE a (id bigint);\n")
	st, err = Inspect(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	if st.Healthy() || !slices.Equal(kinds(st.Problems), []string{"failed:002", "checksum-mismatch:001"}) {
		t.Fatalf("problems %+v", st.Problems)
	}
}

// A command tool gets the DSN with the timeouts in its variable: psql
// (libpq reads options= from the URL) times out on the held lock, cutover
// sees the lock timeout in its output and runs the command again.
func TestRunCommandRetriesLockTimeout(t *testing.T) {
	if _, err := exec.LookPath("psql"); err != nil {
		t.Fatal("psql is needed (Debian postgresql-client)")
	}
	db := dbtest.Postgres(t)
	db.Exec(t, "CREATE TABLE users (id int PRIMARY KEY)",
		"CREATE TABLE schema_migrations (version varchar(128) PRIMARY KEY)")
	dir := writeFiles(t, map[string]string{"20240101000000_email.sql": "-- migrate:up\nALTER TABLE users ADD COLUMN email text;\n"})
	src := source(db, "dbmate", dir)
	// What dbmate does, with psql: the file, then its history row.
	src.Config.Command = `echo "lock=$CUTOVER_LOCK_TIMEOUT_MS target={{.Target}} phase={{.Phase}}" && ` +
		`psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -q -f {{.Dir}}/{{.Target}}_email.sql && ` +
		`psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -q -c "INSERT INTO schema_migrations VALUES ('{{.Target}}')"`
	st, err := Inspect(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	release := holdLock(t, db)
	var out testutil.SyncBuffer
	resc, errc := runAsync(src, st.Plan, RunOptions{Phase: lint.PhaseExpand, Output: &out, Backoff: 300 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if !out.WaitFor(ctx, "lock timeout") {
		t.Fatalf("no lock timeout; output:\n%s", out.String())
	}
	release()
	res, err := <-resc, <-errc
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if res.LockTimeouts < 1 || !strings.Contains(out.String(), "lock=200 target=20240101000000 phase=expand") {
		t.Fatalf("result %+v output:\n%s", res, out.String())
	}
	st, err = Inspect(context.Background(), src)
	if err != nil || len(st.Pending) != 0 {
		t.Fatalf("pending after run: %v %v", st, err)
	}
}

// A command without {{.Target}} cannot stop before the contract files, so
// the expand phase refuses to run it.
func TestRunCommandNeedsTarget(t *testing.T) {
	db := dbtest.Postgres(t)
	dir := writeFiles(t, map[string]string{"1_a.up.sql": "CREATE TABLE a (id int);", "2_b.up.sql": "-- cutover:phase contract\nDROP TABLE a;"})
	src := source(db, "golang-migrate", dir)
	src.Config.Command = "exit 1"
	st, err := Inspect(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), src, st.Plan, RunOptions{Phase: lint.PhaseExpand}); !errors.Is(err, ErrNoTarget) {
		t.Fatalf("got %v", err)
	}
}

// writeFile replaces one file of dir.
func writeFile(t *testing.T, dir, name, src string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The output of a command passes through with the DSN's password replaced.
func TestRedactWriter(t *testing.T) {
	var b bytes.Buffer
	w := &redactWriter{w: &b, dsn: "postgres://app:s3cr3t-pw@db:5432/app"}
	w.Write([]byte("connecting to postgres://app:s3cr3t-pw@db:5432/app\npass"))
	w.Write([]byte("word s3cr3t-pw\n"))
	if got := b.String(); strings.Contains(got, "s3cr3t") || got != "connecting to <dsn>\npassword <password>\n" {
		t.Fatalf("got %q", got)
	}
}
