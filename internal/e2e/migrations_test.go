package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/dbtest"
	"github.com/cutover-dev/cutover/internal/loadgen"
)

// TestMigrationsUnderLoad: v1 and v2 of the sample app both query the
// database on every request. An expand migration runs inside the deploy
// of v2 while v1 serves under load, and neither version fails a request;
// a column drop that v1 (the standby) still reads refuses the deploy of v3
// with the rule and file:line, and changes nothing.
func TestMigrationsUnderLoad(t *testing.T) {
	db := dbtest.Postgres(t)
	db.Exec(t, "CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL, avatar text)",
		"INSERT INTO users SELECT g, 'user ' || g, NULL FROM generate_series(1, 1000) g")
	mig := filepath.Join(t.TempDir(), "db")
	if err := os.Mkdir(mig, 0o755); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, fmt.Sprintf("    migrations:\n      tool: plain\n      dir: %q\n      database: postgres\n      dsn_env: SHOP_DATABASE_URL\n      lock_timeout: 2s\n", mig))
	e.extraEnv = []string{"SHOP_DATABASE_URL=" + db.DSN}
	query := func(version, sql string) {
		f := filepath.Join(e.dir, "query-"+version+".sql")
		if err := os.WriteFile(f, []byte(sql), 0o600); err != nil {
			t.Fatal(err)
		}
		e.flags(version, "--db-dsn-env SHOP_DATABASE_URL --db-query-file "+f)
	}
	addMigration := func(name, sql string) {
		if err := os.WriteFile(filepath.Join(mig, name), []byte(sql), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	query("v1", "SELECT id, name, avatar FROM users WHERE id % 97 = 3")
	query("v2", "SELECT id, name, nick FROM users WHERE id % 97 = 3")
	query("v3", "SELECT id, nick FROM users WHERE id % 97 = 3")
	e.start()
	e.mustCLI("deploy", "shop", "v1")

	l := loadgen.New(loadgen.Options{URL: "http://" + e.http, Workers: 16})
	ctx, cancel := context.WithCancel(context.Background())
	loadDone := make(chan struct{})
	go func() { defer close(loadDone); l.Run(ctx) }()

	addMigration("001_nick.sql", "ALTER TABLE users ADD COLUMN nick text;\n")
	e.mustCLI("deploy", "shop", "v2")
	if v := e.version(); v != "v2" {
		t.Errorf("serving %s after the deploy of v2", v)
	}

	addMigration("002_drop_avatar.sql", "ALTER TABLE users DROP COLUMN avatar;\n")
	r := e.cli("deploy", "shop", "v3")
	if r.code != 1 || !strings.Contains(r.stdout+r.stderr, "002_drop_avatar.sql:1: error[drop-column]") {
		t.Errorf("deploy of v3 with a column drop: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if v := e.version(); v != "v2" {
		t.Errorf("serving %s after the refused deploy", v)
	}
	if got := e.versionsRunning(); got["v3"] != 0 {
		t.Errorf("v3 instances running after a refused deploy: %v", got)
	}
	cancel()
	<-loadDone
	total, failed, per, errs := l.Totals()
	t.Logf("%d requests, %d failed, per version %v", total, failed, per)
	if failed != 0 {
		t.Errorf("%d of %d requests failed: %v", failed, total, errs)
	}
	if per["v1"] == 0 || per["v2"] == 0 {
		t.Errorf("both versions should have served under load: %v", per)
	}
	var avatar int
	if err := db.SQL.QueryRow("SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'avatar'").Scan(&avatar); err != nil || avatar != 1 {
		t.Errorf("the refused deploy dropped avatar: %d %v", avatar, err)
	}
	h := e.mustCLI("history", "shop", "-o", "json")
	if !strings.Contains(h.stdout, "migrate: expand applied 001") {
		t.Errorf("the expand migration is not in the history:\n%s", h.stdout)
	}
	e.stop()
}

// TestContractAfterStandbyAndRollbackFloor: a contract migration is
// refused while the old version is on standby and runs once the window is
// closed; the rollback floor it records then refuses a rollback to the old
// version (exit 5) unless --force.
func TestContractAfterStandbyAndRollbackFloor(t *testing.T) {
	db := dbtest.Postgres(t)
	db.Exec(t, "CREATE TABLE users (id int PRIMARY KEY, avatar text)")
	mig := filepath.Join(t.TempDir(), "db")
	if err := os.MkdirAll(filepath.Join(mig, "contract"), 0o755); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, fmt.Sprintf("    migrations:\n      tool: plain\n      dir: %q\n      database: postgres\n      dsn_env: SHOP_DATABASE_URL\n", mig))
	e.extraEnv = []string{"SHOP_DATABASE_URL=" + db.DSN}
	e.start()
	e.mustCLI("deploy", "shop", "v1")
	e.mustCLI("deploy", "shop", "v2")
	if err := os.WriteFile(filepath.Join(mig, "contract", "001_drop_avatar.sql"), []byte("ALTER TABLE users DROP COLUMN avatar;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	contract := func() result {
		return e.runCLI([]string{"CUTOVER_ADMIN=unix://" + e.sock, "SHOP_DATABASE_URL=" + db.DSN}, "migrate", "contract", "shop", "-c", e.cfg)
	}
	if r := contract(); r.code != 5 || !strings.Contains(r.stderr, "v1 is on standby") {
		t.Fatalf("contract during the standby window: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	e.mustCLI("promote", "shop") // ends the standby window now
	waitFor(t, "the standby to retire", 10*time.Second, func() bool { return e.versionsRunning()["v1"] == 0 })
	if r := contract(); r.code != 0 || !strings.Contains(r.stdout, "rollback floor: v2") {
		t.Fatalf("contract after the standby window: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r := e.cli("rollback", "shop", "--to", "v1")
	if r.code != 5 || !strings.Contains(r.stderr, "v1 is below the rollback floor of shop") {
		t.Fatalf("rollback below the floor: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if v := e.version(); v != "v2" {
		t.Fatalf("serving %s after a refused rollback", v)
	}
	e.mustCLI("rollback", "shop", "--to", "v1", "--force")
	if v := e.version(); v != "v1" {
		t.Fatalf("serving %s after rollback --force", v)
	}
	e.stop()
}
