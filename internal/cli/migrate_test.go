package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/api/apitest"
	"github.com/cutover-dev/cutover/internal/dbtest"
	"github.com/cutover-dev/cutover/internal/deploy"
	"github.com/cutover-dev/cutover/internal/store"
)

// migrateSetup writes a config whose service web keeps its migrations in
// db/ (tool plain, PostgreSQL), and a fresh database with a users table.
func migrateSetup(t *testing.T, files map[string]string) (cfg string, db *dbtest.DB) {
	t.Helper()
	db = dbtest.Postgres(t)
	db.Exec(t, "CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL, avatar text)")
	dir := t.TempDir()
	for name, src := range files {
		p := filepath.Join(dir, "db", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg = filepath.Join(dir, "cutover.yaml")
	yaml := "state_dir: " + filepath.Join(dir, "state") + `
services:
  web:
    process:
      command: /bin/true
    ports: [8080, 8081]
    migrations:
      tool: plain
      dir: db
      database: postgres
      dsn_env: APP_DATABASE_URL
      lock_timeout: 2s
`
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg, db
}

// status lists the pending files with their phase; lint fails on a column
// drop in an expand file, naming the rule and file:line; contract is
// refused while a standby runs and applies the contract file once it has
// gone.
func TestMigrateCommands(t *testing.T) {
	cfg, db := migrateSetup(t, map[string]string{
		"001_nick.sql":          "ALTER TABLE users ADD COLUMN nick text;\n",
		"002_drop_avatar.sql":   "-- the old version still reads avatar\nALTER TABLE users DROP COLUMN avatar;\n",
		"contract/003_drop.sql": "ALTER TABLE users DROP COLUMN email;\n",
	})
	h := newHarness(t, deploy.ServiceStatus{Name: "web", Active: &deploy.ReleaseStatus{Version: "v2"},
		Standby: &deploy.ReleaseStatus{Version: "v1"}, StandbyUntil: testNow.Add(5 * time.Minute)})
	h.env["APP_DATABASE_URL"] = db.DSN

	r := h.run(t, "migrate", "status", "web", "-c", cfg)
	if r.code != ExitOK || !strings.Contains(r.stdout, "web: plain on postgres") ||
		!strings.Contains(r.stdout, "expand    001      001_nick.sql") || !strings.Contains(r.stdout, "contract  003      contract/003_drop.sql") {
		t.Fatalf("status: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = h.run(t, "migrate", "status", "web", "-c", cfg, "-o", "json")
	var st struct {
		Pending  []struct{ Version, Phase string }
		Contract []struct{ Version string }
		Server   struct{ Flavour string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || len(st.Pending) != 3 || len(st.Contract) != 1 || st.Server.Flavour != "postgres" {
		t.Fatalf("status json: %v\n%s", err, r.stdout)
	}
	if strings.Contains(r.stdout, db.DSN) {
		t.Fatal("the DSN is in the output")
	}

	r = h.run(t, "migrate", "lint", "web", "-c", cfg)
	if r.code != ExitFailed || !strings.Contains(r.stdout, filepath.Join(filepath.Dir(cfg), "db", "002_drop_avatar.sql")+":2") ||
		!strings.Contains(r.stdout, "drop-column") || strings.Contains(r.stdout, "003_drop.sql:1: error") {
		t.Fatalf("lint: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = h.run(t, "migrate", "lint", "web", "-c", cfg, "--allow", "drop-column=nothing reads avatar since v1")
	if r.code != ExitOK || !strings.Contains(r.stdout, "nothing reads avatar since v1") {
		t.Fatalf("lint --allow: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = h.run(t, "migrate", "contract", "web", "-c", cfg)
	if r.code != ExitRefused || !strings.Contains(r.stderr, "version v1 is on standby") {
		t.Fatalf("contract with a standby: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = h.run(t, "migrate", "contract", "web", "-c", cfg, "--no-server", "--dry-run")
	if r.code != ExitFailed || !strings.Contains(r.stderr, "fail the lint") {
		t.Fatalf("contract with a lint error pending: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// Bad input: no DSN in the environment, an unknown service, a service
// without migrations, an unreachable database.
func TestMigrateBadInput(t *testing.T) {
	cfg, db := migrateSetup(t, map[string]string{"001_a.sql": "SELECT 1;"})
	var h *harness
	r := h.run(t, "migrate", "status", "web", "-c", cfg)
	if r.code != ExitUsage || !strings.Contains(r.stderr, "services.web.migrations.dsn_env: environment variable APP_DATABASE_URL is not set") {
		t.Fatalf("no DSN: exit %d %s", r.code, r.stderr)
	}
	h = newHarness(t)
	h.env["APP_DATABASE_URL"] = db.DSN
	if r := h.run(t, "migrate", "status", "api", "-c", cfg); r.code != ExitUsage || !strings.Contains(r.stderr, `no service "api"`) {
		t.Fatalf("unknown service: exit %d %s", r.code, r.stderr)
	}
	h.env["APP_DATABASE_URL"] = "postgres://app:pw-never-shown@127.0.0.1:1/app?connect_timeout=2"
	r = h.run(t, "migrate", "status", "web", "-c", cfg)
	if r.code != ExitFailed || !strings.Contains(r.stderr, "database unreachable") || strings.Contains(r.stderr, "pw-never-shown") {
		t.Fatalf("unreachable: exit %d %s", r.code, r.stderr)
	}
}

// With the standby gone, contract applies every pending migration, the
// contract one included.
func TestMigrateContractRuns(t *testing.T) {
	cfg, db := migrateSetup(t, map[string]string{
		"001_nick.sql":          "ALTER TABLE users ADD COLUMN nick text;\n",
		"contract/002_drop.sql": "ALTER TABLE users DROP COLUMN avatar;\n",
	})
	h := newHarness(t, deploy.ServiceStatus{Name: "web", Active: &deploy.ReleaseStatus{Version: "v2"}})
	h.env["APP_DATABASE_URL"] = db.DSN
	r := h.run(t, "migrate", "contract", "web", "-c", cfg)
	if r.code != ExitOK || !strings.Contains(r.stdout, "contract: applied 001, 002") || !strings.Contains(r.stdout, "rollback floor: v2") {
		t.Fatalf("contract: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	floor, err := deploy.ReadFloor(filepath.Join(filepath.Dir(cfg), "state"), "web")
	if err != nil || floor == nil || floor.Version != "v2" || len(floor.Migrations) != 1 || floor.Migrations[0] != "002" {
		t.Fatalf("floor %+v %v", floor, err)
	}
	var n int
	if err := db.SQL.QueryRow("SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'avatar'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("avatar still there: %d %v", n, err)
	}
	r = h.run(t, "migrate", "status", "web", "-c", cfg)
	if r.code != ExitOK || !strings.Contains(r.stdout, "no pending migrations") {
		t.Fatalf("status after contract: exit %d\n%s", r.code, r.stdout)
	}
}

// deploy --allow reaches the server's deploy request, through the API.
func TestDeployAllowReachesServer(t *testing.T) {
	h := newHarness(t, fixtureServices()...)
	h.fake.Script("deploy", outcomeScript(store.OutcomeDeployed))
	r := h.run(t, "deploy", "api", "v8", "--allow", "drop-column=v8 no longer reads it", "--allow", "add-unique")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	want := deploy.DeployRequest{Service: "api", Version: "v8", Allow: []string{"drop-column=v8 no longer reads it", "add-unique"}}
	if got := h.fake.Calls()[0]; !reflect.DeepEqual(got, apitest.Call{Method: "Deploy", Service: "api", Arg: want}) {
		t.Errorf("call %+v", got)
	}
}
