package deploy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/dbtest"
	"github.com/cutover-dev/cutover/internal/store"
)

// migrationsController returns a started controller of shop whose
// migrations (tool plain) are in the returned directory, on a fresh
// PostgreSQL database with a users table; the agent sees the columns of
// users when each version starts.
func migrationsController(t *testing.T) (*Controller, *fakeAgent, *dbtest.DB, string, func(string) []string, store.Store) {
	t.Helper()
	db := dbtest.Postgres(t)
	db.Exec(t, "CREATE TABLE users (id int PRIMARY KEY, avatar text)")
	dir := t.TempDir()
	t.Setenv("SHOP_DATABASE_URL", db.DSN)
	extra := fmt.Sprintf("    migrations:\n      tool: plain\n      dir: %s\n      database: postgres\n      dsn_env: SHOP_DATABASE_URL\n", dir)
	cfg := switchConfig(t, testPorts(t, 3), extra)
	agent := newFakeAgent(1, func(string, int) bool { return true })
	var mu sync.Mutex
	seen := map[string][]string{}
	agent.startErr = func(v string) error {
		cols := columns(t, db)
		mu.Lock()
		seen[v] = cols
		mu.Unlock()
		return nil
	}
	st := openStore(t, t.TempDir())
	c := newController(t, cfg, st, agent)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c, agent, db, dir, func(v string) []string {
		mu.Lock()
		defer mu.Unlock()
		return seen[v]
	}, st
}

func columns(t *testing.T, db *dbtest.DB) []string {
	rows, err := db.SQL.Query("SELECT column_name FROM information_schema.columns WHERE table_name = 'users' ORDER BY ordinal_position")
	if err != nil {
		t.Error(err)
		return nil
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		rows.Scan(&c)
		out = append(out, c)
	}
	return out
}

func addMigration(t *testing.T, dir, name, src string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The expand migration runs before the new version's first instance
// starts; the contract migration waits.
func TestDeployRunsExpandBeforeStart(t *testing.T) {
	c, _, db, dir, seen, _ := migrationsController(t)
	mustDeploy(t, c, "v1")
	addMigration(t, dir, "001_nick.sql", "ALTER TABLE users ADD COLUMN nick text;\n")
	addMigration(t, dir, "contract/002_drop_avatar.sql", "ALTER TABLE users DROP COLUMN avatar;\n")
	mustDeploy(t, c, "v2")
	if got := strings.Join(seen("v2"), ","); got != "id,avatar,nick" {
		t.Fatalf("columns when v2 started: %s (want the expand column, and avatar kept)", got)
	}
	if got := strings.Join(columns(t, db), ","); got != "id,avatar,nick" {
		t.Fatalf("columns after the deploy: %s (the contract migration must wait)", got)
	}
}

// A column drop in the expand set refuses the deploy with the rule and
// file:line before anything starts; with --allow it proceeds.
func TestDeployRefusedByMigrationLint(t *testing.T) {
	c, agent, db, dir, _, st := migrationsController(t)
	mustDeploy(t, c, "v1")
	addMigration(t, dir, "001_drop_avatar.sql", "-- v1 reads avatar\nALTER TABLE users DROP COLUMN avatar;\n")
	ev := deployAndWait(t, c, "v2")
	if ev.Outcome != store.OutcomeFailed || !strings.Contains(ev.Error, "001_drop_avatar.sql:2: error[drop-column]") ||
		!strings.Contains(ev.Error, "nothing was started or migrated") {
		t.Fatalf("deploy v2: %s: %s", ev.Outcome, ev.Error)
	}
	agent.mu.Lock()
	started := agent.started["v2"]
	agent.mu.Unlock()
	if started != 0 || strings.Join(columns(t, db), ",") != "id,avatar" {
		t.Fatalf("refused deploy changed something: %d started, columns %v", started, columns(t, db))
	}
	id, err := c.Deploy(context.Background(), DeployRequest{Service: "shop", Version: "v2", Allow: []string{"drop-column=v2 no longer reads avatar"}})
	if err != nil {
		t.Fatal(err)
	}
	ch, cancel, err := c.Subscribe("shop", id)
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	allowed := false
	for ev := range ch {
		if strings.Contains(ev.Message, "drop-column allowed (v2 no longer reads avatar)") {
			allowed = true
		}
		if ev.Type == EventDone {
			if ev.Outcome != store.OutcomeDeployed {
				t.Fatalf("deploy with --allow: %s: %s", ev.Outcome, ev.Error)
			}
			break
		}
	}
	if !allowed || strings.Join(columns(t, db), ",") != "id" {
		t.Fatalf("override event %v, columns %v", allowed, columns(t, db))
	}
	hist, err := st.History(context.Background(), "shop", 1)
	if err != nil || len(hist) != 1 {
		t.Fatalf("history %v %v", hist, err)
	}
	notes := strings.Join(hist[0].Notes, "\n")
	if !strings.Contains(notes, "drop-column allowed at "+filepath.Join(dir, "001_drop_avatar.sql")+":2 (option override: v2 no longer reads avatar)") ||
		!strings.Contains(notes, "expand applied 001") {
		t.Fatalf("history notes:\n%s", notes)
	}
}

// With soak set, the old version serves alone on the migrated schema and a
// health failure meanwhile stops the deploy before the new version starts.
func TestDeploySoakStopsOnUnhealthyOldVersion(t *testing.T) {
	db := dbtest.Postgres(t)
	db.Exec(t, "CREATE TABLE users (id int PRIMARY KEY)")
	dir := t.TempDir()
	t.Setenv("SHOP_DATABASE_URL", db.DSN)
	extra := fmt.Sprintf("    health:\n      interval: 20ms\n    migrations:\n      tool: plain\n      dir: %s\n      database: postgres\n      dsn_env: SHOP_DATABASE_URL\n      soak: 1m\n", dir)
	agent := newFakeAgent(1, func(string, int) bool { return true })
	c := newController(t, switchConfig(t, testPorts(t, 3), extra), openStore(t, t.TempDir()), agent)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	mustDeploy(t, c, "v1")
	addMigration(t, dir, "001_nick.sql", "ALTER TABLE users ADD COLUMN nick text;\n")
	id, err := c.Deploy(context.Background(), DeployRequest{Service: "shop", Version: "v2"})
	if err != nil {
		t.Fatal(err)
	}
	ch, cancel, err := c.Subscribe("shop", id)
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	for ev := range ch {
		if ev.Step == "soak" && strings.HasPrefix(ev.Message, "soaking") {
			agent.mu.Lock()
			for id := range agent.watched {
				agent.watched[id] = false // v1 fails its health check now
			}
			agent.mu.Unlock()
		}
		if ev.Type == EventDone {
			if ev.Outcome != store.OutcomeFailed || !strings.Contains(ev.Error, "of the old version v1 turned unhealthy") ||
				!strings.Contains(ev.Error, "the schema keeps them") {
				t.Fatalf("deploy: %s: %s", ev.Outcome, ev.Error)
			}
			break
		}
	}
	agent.mu.Lock()
	defer agent.mu.Unlock()
	if agent.started["v2"] != 0 {
		t.Fatalf("v2 started %d instances after a failed soak", agent.started["v2"])
	}
}

// After contract migrations recorded a floor at v2, a rollback to v1 is
// refused with the reason, one to v2 is not, and --force goes below.
func TestRollbackFloor(t *testing.T) {
	agent := newFakeAgent(1, func(string, int) bool { return true })
	cfg := switchConfig(t, testPorts(t, 3), "")
	c := newController(t, cfg, openStore(t, t.TempDir()), agent)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"v1", "v2", "v3"} {
		mustDeploy(t, c, v)
	}
	if err := WriteFloor(cfg.StateDir, "shop", Floor{Version: "v2", Migrations: []string{"007"}}); err != nil {
		t.Fatal(err)
	}
	_, err := c.Rollback(context.Background(), RollbackRequest{Service: "shop", To: "v1"})
	if !errors.Is(err, ErrNothingToRollBack) || !strings.Contains(err.Error(), "v1 is below the rollback floor of shop") {
		t.Fatalf("rollback to v1: %v", err)
	}
	if ev := rollbackAndWait(t, c); ev.Outcome != store.OutcomeDeployed {
		t.Fatalf("rollback to the standby v2: %s %s", ev.Outcome, ev.Error)
	}
	id, err := c.Rollback(context.Background(), RollbackRequest{Service: "shop", To: "v1", Force: true})
	if err != nil {
		t.Fatalf("rollback --force to v1: %v", err)
	}
	if ev := waitDone(t, c, id); ev.Outcome != store.OutcomeDeployed {
		t.Fatalf("rollback --force to v1: %s %s", ev.Outcome, ev.Error)
	}
}

// An unreachable database fails the preflight with a clear reason that
// never shows the password, before anything starts.
func TestDeployUnreachableDatabase(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("SHOP_DATABASE_URL", "postgres://app:pw-never-shown@127.0.0.1:1/app?connect_timeout=2")
	extra := fmt.Sprintf("    migrations:\n      tool: plain\n      dir: %s\n      database: postgres\n      dsn_env: SHOP_DATABASE_URL\n", dir)
	agent := newFakeAgent(1, func(string, int) bool { return true })
	c := newController(t, switchConfig(t, testPorts(t, 2), extra), openStore(t, t.TempDir()), agent)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ev := deployAndWait(t, c, "v1")
	if ev.Outcome != store.OutcomeFailed || !strings.Contains(ev.Error, "migrations preflight: database unreachable") || strings.Contains(ev.Error, "pw-never-shown") {
		t.Fatalf("deploy: %s: %s", ev.Outcome, ev.Error)
	}
	agent.mu.Lock()
	defer agent.mu.Unlock()
	if agent.started["v1"] != 0 {
		t.Fatal("an instance started although the preflight failed")
	}
}

// The contract migration a deploy left pending runs at the next deploy,
// once the standby window of the older version closed, and records the
// rollback floor; one that the next deploy brings waits in turn.
func TestNextDeployRunsLeftContract(t *testing.T) {
	c, _, _, dir, seen, st := migrationsController(t)
	mustDeploy(t, c, "v1")
	addMigration(t, dir, "001_nick.sql", "ALTER TABLE users ADD COLUMN nick text;\n")
	addMigration(t, dir, "contract/002_drop_avatar.sql", "ALTER TABLE users DROP COLUMN avatar;\n")
	mustDeploy(t, c, "v2")
	if got := strings.Join(seen("v2"), ","); got != "id,avatar,nick" {
		t.Fatalf("columns when v2 started: %s", got)
	}
	if err := c.Promote(context.Background(), "shop"); err != nil { // ends the standby window of v1
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s := stored(t, st); s.Standby != nil || len(s.Retiring) > 0; s = stored(t, st) {
		if time.Now().After(deadline) {
			t.Fatalf("the standby did not retire: %+v", s)
		}
		time.Sleep(10 * time.Millisecond)
	}
	addMigration(t, dir, "contract/003_drop_nick.sql", "ALTER TABLE users DROP COLUMN nick;\n") // v2 still reads nick
	mustDeploy(t, c, "v3")
	if got := strings.Join(seen("v3"), ","); got != "id,nick" {
		t.Fatalf("columns when v3 started: %s (want 002, left by v2's deploy, applied, and 003 waiting)", got)
	}
	f, err := ReadFloor(c.opts.Config.StateDir, "shop")
	if err != nil || f == nil || f.Version != "v2" || strings.Join(f.Migrations, ",") != "002" {
		t.Fatalf("floor %+v %v", f, err)
	}
	hist, err := st.History(context.Background(), "shop", 1)
	if err != nil || !strings.Contains(strings.Join(hist[0].Notes, "\n"), "contract applied 002; rollback floor v2") ||
		!strings.Contains(strings.Join(hist[0].Notes, "\n"), "contract pending 003") {
		t.Fatalf("history %+v %v", hist, err)
	}
}
