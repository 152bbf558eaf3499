package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeMigrations writes files (name -> SQL) under a new directory and returns it.
func writeMigrations(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, sql := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(sql), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLintSQLText(t *testing.T) {
	var h *harness
	dir := writeMigrations(t, map[string]string{
		"0001_add_nick.sql":         "ALTER TABLE users ADD COLUMN nick text;\n",
		"0002_index.sql":            "CREATE INDEX users_nick_idx ON users (nick);\nALTER TABLE users DROP COLUMN avatar;\n",
		"contract/0003_drop.sql":    "ALTER TABLE users DROP COLUMN email;\n",
		"0004_rename_nick.sql":      "ALTER TABLE users RENAME COLUMN nick TO nickname; -- new in this set\n",
		"0005_remove.down.sql":      "DROP TABLE users;\n",
		"0006_allowed.sql":          "-- cutover:allow drop-default reason=\"writers set status since v7\"\nALTER TABLE users ALTER COLUMN status DROP DEFAULT;\n",
		"applied/ignored/notes.txt": "not SQL",
	})
	var r result
	t.Run("in the migrations directory", func(t *testing.T) {
		t.Chdir(dir) // for paths in the output that do not depend on the temporary directory
		r = h.run(t, "lint-sql", "--dialect", "postgres", ".")
	})
	if r.code != ExitFailed || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	golden(t, "lint_sql_text", r.stdout)
}

func TestLintSQLExitCodes(t *testing.T) {
	var h *harness
	dir := writeMigrations(t, map[string]string{
		"warn.sql":      "ALTER TABLE users ADD COLUMN seen datetime NULL;\n",
		"error.sql":     "ALTER TABLE users DROP COLUMN email, ALGORITHM=INPLACE, LOCK=NONE;\n",
		"parse.sql":     "CREATE OR REPLACE TABLE t (a int);\n",
		"applied/1.sql": "CREATE TABLE users (id int PRIMARY KEY, views int NOT NULL DEFAULT 0);\n",
		"widen.sql":     "ALTER TABLE users MODIFY views BIGINT NOT NULL DEFAULT 0, ALGORITHM=COPY;\n",
	})
	path := func(name string) string { return filepath.Join(dir, name) }
	tests := []struct {
		name string
		args []string
		code int
		out  string // in stdout, or stderr for usage errors
	}{
		{"warnings only", []string{"--dialect", "mysql", path("warn.sql")}, ExitOK, "1 warning"},
		{"an error", []string{"--dialect", "mariadb", path("error.sql")}, ExitFailed, "error[drop-column] drops column users.email"},
		{"allowed on the command line", []string{"--dialect", "mysql", "--allow", "drop-column=ticket 7", path("error.sql")}, ExitOK, "reason: ticket 7 (--allow drop-column)"},
		{"parse error is a warning", []string{"--dialect", "mariadb", path("parse.sql")}, ExitOK, "warning[parse-error]"},
		{"strict makes it an error", []string{"--dialect", "mariadb", "--strict", path("parse.sql")}, ExitFailed, "error[parse-error]"},
		{"applied migrations tell a widening", []string{"--dialect", "mysql", "--applied", path("applied"), path("widen.sql")}, ExitFailed, "widens column users.views from int to bigint"},
		{"rules", []string{"--rules"}, ExitOK, "concurrently-in-transaction  error"},
		{"no dialect", []string{path("warn.sql")}, ExitUsage, "needs --dialect"},
		{"unknown dialect", []string{"--dialect", "oracle", path("warn.sql")}, ExitUsage, `unknown dialect "oracle"`},
		{"no files", []string{"--dialect", "mysql"}, ExitUsage, "at least one migration file"},
		{"missing file", []string{"--dialect", "mysql", path("nope.sql")}, ExitUsage, "no such file"},
		{"unknown rule", []string{"--dialect", "mysql", "--allow", "drop-everything", path("warn.sql")}, ExitUsage, `unknown rule "drop-everything"`},
		{"bad output", []string{"--dialect", "mysql", "-o", "xml", path("warn.sql")}, ExitUsage, "use text, json or github"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.run(t, append([]string{"lint-sql"}, tt.args...)...)
			where := r.stdout
			if tt.code == ExitUsage {
				where = r.stderr
			}
			if r.code != tt.code || !strings.Contains(where, tt.out) {
				t.Errorf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant %q", r.code, tt.code, r.stdout, r.stderr, tt.out)
			}
		})
	}
}

func TestLintSQLGitHubAndJSON(t *testing.T) {
	var h *harness
	dir := writeMigrations(t, map[string]string{
		"1.sql": "BEGIN;\nCREATE INDEX CONCURRENTLY i ON t (a);\nCOMMIT;\n",
		"2.sql": "DROP INDEX j;\n",
	})
	r := h.run(t, "lint-sql", "--dialect", "postgres", "-o", "github", dir)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != ExitFailed || len(lines) != 3 ||
		!strings.HasPrefix(lines[0], "::error file="+filepath.Join(dir, "1.sql")+",line=2,title=cutover concurrently-in-transaction::CREATE INDEX CONCURRENTLY i inside BEGIN ... COMMIT%0AWhy: ") ||
		!strings.HasPrefix(lines[1], "::warning file="+filepath.Join(dir, "2.sql")+",line=1,title=cutover index-not-concurrent::") ||
		lines[2] != "2 files, 4 statements: 1 error, 1 warning" {
		t.Fatalf("exit %d:\n%s", r.code, r.stdout)
	}

	r = h.run(t, "lint-sql", "--dialect", "postgres", "-o", "json", dir)
	var doc struct {
		OK       bool `json:"ok"`
		Errors   int  `json:"errors"`
		Findings []struct {
			Rule     string `json:"rule"`
			Severity string `json:"severity"`
			Line     int    `json:"line"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != ExitFailed || doc.OK || doc.Errors != 1 ||
		len(doc.Findings) != 2 || doc.Findings[0].Rule != "concurrently-in-transaction" || doc.Findings[0].Severity != "error" {
		t.Fatalf("exit %d, %v:\n%s", r.code, err, r.stdout)
	}

	// Usage errors follow -o json too.
	r = h.run(t, "lint-sql", "--dialect", "cobol", "-o", "json", dir)
	var je struct {
		ExitCode int `json:"exit_code"`
	}
	if err := json.Unmarshal([]byte(r.stderr), &je); err != nil || r.code != ExitUsage {
		t.Fatalf("exit %d, %v: %s", r.code, err, r.stderr)
	}
}
