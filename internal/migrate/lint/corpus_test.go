package lint

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cutover-dev/cutover/internal/migrate/sqlparse"
)

var update = flag.Bool("update", false, "rewrite testdata/**/*.golden with the current output")

// TestCorpus lints every case of testdata/<dialect>/ and compares the text
// report with <case>.golden. A case is a .sql file, or a directory of them
// (a pending set, in migration order) whose applied/ subdirectory holds
// migrations already applied.
func TestCorpus(t *testing.T) {
	dialects := map[string]sqlparse.Dialect{"mysql": sqlparse.MySQL, "mariadb": sqlparse.MariaDB, "postgres": sqlparse.Postgres}
	total := 0
	// fired[family][rule] counts the cases where a rule fires; okCases
	// [family][rule] the <rule>_ok cases, where it must not.
	fired := map[string]map[string]bool{"mysql": {}, "postgres": {}}
	okCases := map[string]map[string]bool{"mysql": {}, "postgres": {}}
	for dir, d := range dialects {
		family := "mysql"
		if d == sqlparse.Postgres {
			family = "postgres"
		}
		entries, err := os.ReadDir(filepath.Join("testdata", dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			name := e.Name()
			if !e.IsDir() && !strings.HasSuffix(name, ".sql") {
				continue
			}
			path := filepath.Join("testdata", dir, name)
			t.Run(dir+"/"+name, func(t *testing.T) {
				files, applied := loadCase(t, path)
				total += len(files) + len(applied)
				res, err := Lint(files, Options{Dialect: d, Applied: applied})
				if err != nil {
					t.Fatal(err)
				}
				var out bytes.Buffer
				if err := WriteText(&out, res); err != nil {
					t.Fatal(err)
				}
				golden(t, strings.TrimSuffix(path, ".sql")+".golden", out.String())
				for _, f := range res.Findings {
					fired[family][f.Rule] = true
				}
				if rule, _, ok := strings.Cut(strings.TrimSuffix(name, ".sql"), "_ok"); ok {
					okCases[family][rule] = true
					for _, f := range res.Findings {
						if f.Rule == rule && f.Allowed == nil {
							t.Errorf("negative case for %s finds it: %s", rule, f.Message)
						}
					}
				}
			})
		}
	}
	for _, r := range Rules() {
		for _, family := range []string{"mysql", "postgres"} {
			if r.appliesTo(family == "mysql") && !fired[family][r.ID] {
				t.Errorf("no %s case finds %s", family, r.ID)
			}
			if !okCases[family][r.ID] {
				t.Errorf("no %s case testdata/%s/%s_ok...", family, family, r.ID)
			}
		}
	}
	if total < 40 {
		t.Errorf("the corpus has %d migrations; it should have at least 40", total)
	}
}

// loadCase returns the pending files and the applied ones of a case.
func loadCase(t *testing.T, path string) (pending, applied []File) {
	t.Helper()
	all, err := Load([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	appliedDir := filepath.Join(path, "applied") + string(filepath.Separator)
	for _, f := range all {
		if strings.HasPrefix(f.Path, appliedDir) {
			applied = append(applied, f)
		} else {
			pending = append(pending, f)
		}
	}
	return pending, applied
}

// golden compares got with the file at path, rewriting it with -update.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run go test -update to accept):\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}
