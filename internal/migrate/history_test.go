package migrate

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/dbtest"
	"github.com/cutover-dev/cutover/internal/migrate/lint"
	"github.com/cutover-dev/cutover/internal/migrate/sqlparse"
)

var dialects = []sqlparse.Dialect{sqlparse.MariaDB, sqlparse.Postgres}

// writeFiles writes name → content under a new directory.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func source(db *dbtest.DB, tool, dir string) Source {
	database := config.DatabasePostgres
	if db.Dialect.IsMySQL() {
		database = config.DatabaseMariaDB
	}
	zero := 2
	return Source{Service: "web", DSN: db.DSN, Config: &config.Migrations{
		Tool: tool, Dir: dir, Database: database, DSNEnv: "DATABASE_URL",
		LockTimeout: config.Duration(200e6), LockRetries: &zero,
	}}
}

func versions(ms []Migration) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, label(m))
	}
	return out
}

func kinds(ps []Problem) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.Kind+":"+p.Version)
	}
	return out
}

// Each tool's history table, created as the tool creates it and filled as
// it fills it, gives the pending migrations and the problems the tool
// itself would stop on.
func TestHistoryPerTool(t *testing.T) {
	const create = "CREATE TABLE a (id int);\n"
	for _, d := range dialects {
		bool1, bool0 := "true", "false"
		if d.IsMySQL() {
			bool1, bool0 = "1", "0"
		}
		cases := []struct {
			tool     string
			files    map[string]string
			history  []string // statements that build the tool's table
			pending  []string
			problems []string
		}{
			{
				tool: "flyway",
				files: map[string]string{
					"V1__init.sql": create, "V1.1__more.sql": "CREATE TABLE b (id int);\n", "V2__changed.sql": "CREATE TABLE c (id int);\n",
					"V1_5__late.sql": "CREATE TABLE e (id int);\n", "V3__next.sql": "CREATE TABLE d (id int);\n",
					"R__views.sql": "CREATE VIEW v AS SELECT 1 AS one;\n", "U2__undo.sql": "DROP TABLE c;\n",
				},
				history: []string{
					`CREATE TABLE flyway_schema_history (installed_rank int NOT NULL PRIMARY KEY, version varchar(50), description varchar(200) NOT NULL,
					  type varchar(20) NOT NULL, script varchar(1000) NOT NULL, checksum int, installed_by varchar(100) NOT NULL,
					  installed_on timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP, execution_time int NOT NULL, success boolean NOT NULL)`,
					`INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, checksum, installed_by, execution_time, success) VALUES
					  (1, '1', 'init', 'SQL', 'V1__init.sql', ` + strconv.Itoa(int(flywayChecksum(create))) + `, 'ci', 5, ` + bool1 + `),
					  (2, '1.1', 'more', 'SQL', 'V1.1__more.sql', NULL, 'ci', 5, ` + bool1 + `),
					  (3, '2', 'changed', 'SQL', 'V2__changed.sql', 12345, 'ci', 5, ` + bool1 + `),
					  (4, '2.5', 'broken', 'SQL', 'V2.5__broken.sql', 1, 'ci', 5, ` + bool0 + `)`,
				},
				pending:  []string{"1.5", "3", "R__views"},
				problems: []string{"failed:2.5", "out-of-order:1.5", "checksum-mismatch:2"},
			},
			{
				tool:     "golang-migrate",
				files:    map[string]string{"1_init.up.sql": create, "1_init.down.sql": "DROP TABLE a;", "2_b.up.sql": create, "3_c.up.sql": create},
				history:  []string{"CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)", "INSERT INTO schema_migrations VALUES (2, " + bool1 + ")"},
				pending:  []string{"3"},
				problems: []string{"dirty:2"},
			},
			{
				tool:  "goose",
				files: map[string]string{"00001_init.sql": "-- +goose Up\n" + create + "-- +goose Down\nDROP TABLE a;\n", "00002_b.sql": create, "00003_c.sql": create, "00004_d.sql": create},
				history: []string{
					"CREATE TABLE goose_db_version (id serial PRIMARY KEY, version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp NULL DEFAULT now())",
					"INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, " + bool1 + "), (1, " + bool1 + "), (3, " + bool1 + "), (2, " + bool1 + "), (2, " + bool0 + ")",
				},
				pending:  []string{"00002", "00004"},
				problems: []string{"out-of-order:00002"},
			},
			{
				tool:     "dbmate",
				files:    map[string]string{"20240101000000_init.sql": "-- migrate:up\n" + create + "-- migrate:down\nDROP TABLE a;\n", "20240201000000_b.sql": create, "20240301000000_c.sql": create},
				history:  []string{"CREATE TABLE schema_migrations (version varchar(128) PRIMARY KEY)", "INSERT INTO schema_migrations VALUES ('20240101000000'), ('20240301000000'), ('20231201000000')"},
				pending:  []string{"20240201000000"},
				problems: []string{"out-of-order:20240201000000", "missing-file:20231201000000"},
			},
		}
		for _, tc := range cases {
			t.Run(d.String()+"/"+tc.tool, func(t *testing.T) {
				db := dbtest.New(t, d)
				for _, s := range tc.history {
					if d.IsMySQL() {
						s = mysqlize(s)
					}
					db.Exec(t, s)
				}
				st, err := Inspect(context.Background(), source(db, tc.tool, writeFiles(t, tc.files)))
				if err != nil {
					t.Fatal(err)
				}
				if got := versions(st.Pending); !slices.Equal(got, tc.pending) {
					t.Errorf("pending %v, want %v", got, tc.pending)
				}
				if got := kinds(st.Problems); !slices.Equal(got, tc.problems) {
					t.Errorf("problems %v, want %v", got, tc.problems)
				}
				if st.Healthy() == slices.ContainsFunc(st.Problems, func(p Problem) bool { return p.Severity == lint.SeverityError }) {
					t.Errorf("Healthy() %v with problems %v", st.Healthy(), st.Problems)
				}
			})
		}
	}
}

// mysqlize turns the PostgreSQL spellings of the cases into MariaDB's.
var mysqlize = strings.NewReplacer("id serial PRIMARY KEY", "id bigint unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY",
	"DEFAULT now()", "DEFAULT CURRENT_TIMESTAMP").Replace

// No history table yet: everything is pending, nothing is wrong, and the
// table was not created by looking.
func TestHistoryMissingTable(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.String(), func(t *testing.T) {
			db := dbtest.New(t, d)
			dir := writeFiles(t, map[string]string{"001_a.sql": "CREATE TABLE a (id int);", "contract/002_b.sql": "DROP TABLE a;"})
			st, err := Inspect(context.Background(), source(db, "plain", dir))
			if err != nil {
				t.Fatal(err)
			}
			if st.Exists || len(st.Problems) != 0 || !slices.Equal(versions(st.Expand), []string{"001"}) || !slices.Equal(versions(st.Contract), []string{"002"}) {
				t.Fatalf("exists %v problems %v expand %v contract %v", st.Exists, st.Problems, versions(st.Expand), versions(st.Contract))
			}
			var n int
			if err := db.SQL.QueryRow("SELECT count(*) FROM information_schema.tables WHERE table_name = '" + PlainTable + "'").Scan(&n); err != nil || n != 0 {
				t.Fatalf("history table created by a read: %d %v", n, err)
			}
		})
	}
}
