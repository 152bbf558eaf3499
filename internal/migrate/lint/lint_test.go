package lint

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cutover-dev/cutover/internal/migrate/sqlparse"
)

// lintOne lints one file of src at path.
func lintOne(t *testing.T, d sqlparse.Dialect, path, src string, opts Options) *Result {
	t.Helper()
	opts.Dialect = d
	res, err := Lint([]File{{Path: path, Src: src}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// rulesOf returns "rule/severity" of each finding, allowed ones marked.
func rulesOf(res *Result) []string {
	var out []string
	for _, f := range res.Findings {
		s := f.Rule + "/" + f.Severity.String()
		if f.Allowed != nil {
			s += "/allowed"
		}
		out = append(out, s)
	}
	return out
}

func TestInlineAllowIsRecordedWithItsReason(t *testing.T) {
	src := "-- cutover:allow drop-column,mysql-online-ddl reason=\"unused since v41\"\n" +
		"ALTER TABLE users DROP COLUMN a;\n" +
		"ALTER TABLE users DROP COLUMN b, ALGORITHM=INPLACE, LOCK=NONE; # cutover:allow drop-column reason='b too'\n" +
		"ALTER TABLE users DROP COLUMN c, ALGORITHM=INSTANT;\n"
	res := lintOne(t, sqlparse.MySQL, "m.sql", src, Options{})
	got := rulesOf(res)
	want := []string{"mysql-online-ddl/warning/allowed", "drop-column/error/allowed", "mysql-multiple-ddl/warning",
		"drop-column/error/allowed", "drop-column/error"}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("findings %q, want %q", got, want)
	}
	wantOverrides := []Override{
		{Rule: "mysql-online-ddl", Reason: "unused since v41", Source: SourceInline, File: "m.sql", Line: 1},
		{Rule: "drop-column", Reason: "unused since v41", Source: SourceInline, File: "m.sql", Line: 1},
		{Rule: "drop-column", Reason: "b too", Source: SourceInline, File: "m.sql", Line: 3},
	}
	for _, o := range wantOverrides {
		if !slices.Contains(res.Overrides, o) {
			t.Errorf("overrides %+v lack %+v", res.Overrides, o)
		}
	}
	if !res.Failed() || res.Allowed() != 3 {
		t.Errorf("failed %v, allowed %d: the drop of c is not allowed", res.Failed(), res.Allowed())
	}
}

func TestOptionAllow(t *testing.T) {
	files := []File{{Path: "a.sql", Src: "DROP TABLE x;"}, {Path: "b.sql", Src: "DROP TABLE y;"}}
	res, err := Lint(files, Options{Dialect: sqlparse.Postgres, Allow: []Allow{{Rule: RuleDropTable, Reason: "ticket 12", File: "a.sql"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := rulesOf(res); !slices.Equal(got, []string{"drop-table/error/allowed", "drop-table/error"}) {
		t.Fatalf("findings %q", got)
	}
	if want := (Override{Rule: RuleDropTable, Reason: "ticket 12", Source: SourceOption, File: "a.sql"}); !slices.Equal(res.Overrides, []Override{want}) {
		t.Errorf("overrides %+v", res.Overrides)
	}
	res, err = Lint(files, Options{Dialect: sqlparse.Postgres, Allow: []Allow{{Rule: RuleDropTable, Reason: "all"}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed() || len(res.Overrides) != 1 {
		t.Errorf("an allow without a file covers every file: failed %v, overrides %+v", res.Failed(), res.Overrides)
	}
	if _, err := Lint(files, Options{Dialect: sqlparse.Postgres, Allow: []Allow{{Rule: "drop-everything"}}}); !errors.Is(err, ErrUnknownRule) {
		t.Errorf("unknown rule: %v", err)
	}
}

func TestBadDirectives(t *testing.T) {
	for _, tt := range []struct{ comment, want string }{
		{"-- cutover:allow drop-table", "no reason"},
		{`-- cutover:allow drop-table reason=""`, "empty reason"},
		{`-- cutover:allow drop-table reason="open`, "not closed"},
		{`-- cutover:allow nope reason="x"`, `unknown rule "nope"`},
		{"-- cutover:allow", "names no rule"},
		{"-- cutover:phase later", `unknown phase "later"`},
		{"-- cutover:skip", "unknown directive"},
		{"DROP TABLE t;\n-- cutover:allow drop-table reason=\"late\"", "after the last statement"},
	} {
		src := tt.comment + "\nDROP TABLE t;\n"
		if strings.HasPrefix(tt.comment, "DROP") {
			src = tt.comment
		}
		res := lintOne(t, sqlparse.Postgres, "m.sql", src, Options{})
		slices.SortFunc(res.Findings, func(a, b Finding) int { return strings.Compare(a.Rule, b.Rule) })
		if len(res.Findings) != 2 || res.Findings[0].Rule != RuleBadDirective || !strings.Contains(res.Findings[0].Message, tt.want) ||
			res.Findings[1].Rule != RuleDropTable || res.Findings[1].Allowed != nil {
			t.Errorf("%s: %+v", tt.comment, res.Findings)
		}
	}
}

func TestContractDetection(t *testing.T) {
	tests := []struct {
		path, src, phase string
	}{
		{"db/0001_x.sql", "DROP TABLE t;", PhaseExpand},
		{"db/contract/0001_x.sql", "DROP TABLE t;", PhaseContract},
		{"db/0001_x.sql", "-- cutover:phase contract\nDROP TABLE t;", PhaseContract},
		{"db/contract/0001_x.sql", "-- cutover:phase expand\nDROP TABLE t;", PhaseExpand},
		{"db/contracts/0001_x.sql", "DROP TABLE t;", PhaseExpand},
	}
	for _, tt := range tests {
		res := lintOne(t, sqlparse.Postgres, tt.path, tt.src, Options{})
		if res.Files[0].Phase != tt.phase {
			t.Errorf("%s %q: phase %s, want %s", tt.path, tt.src, res.Files[0].Phase, tt.phase)
		}
		if dropped := len(res.Findings) == 1; dropped != (tt.phase == PhaseExpand) {
			t.Errorf("%s: findings %+v in phase %s", tt.path, res.Findings, tt.phase)
		}
	}
	// Locks still count in a contract migration.
	res := lintOne(t, sqlparse.Postgres, "contract/2.sql", "ALTER TABLE t DROP COLUMN c; CREATE INDEX i ON t (d);", Options{})
	if got := rulesOf(res); !slices.Equal(got, []string{"index-not-concurrent/error"}) {
		t.Errorf("contract findings %q", got)
	}
}

func TestSameSetExemptionFollowsOrder(t *testing.T) {
	create := File{Path: "1_create.sql", Src: "CREATE TABLE t (id int PRIMARY KEY, a text);"}
	drop := File{Path: "2_drop.sql", Src: "ALTER TABLE t DROP COLUMN a; ALTER TABLE t RENAME TO u; DROP TABLE u;"}
	res, err := Lint([]File{create, drop}, Options{Dialect: sqlparse.Postgres})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 0 {
		t.Errorf("objects the set created are exempt: %+v", res.Findings)
	}
	res, err = Lint([]File{drop, create}, Options{Dialect: sqlparse.Postgres})
	if err != nil {
		t.Fatal(err)
	}
	if got := rulesOf(res); !slices.Equal(got, []string{"drop-column/error", "rename-table/error", "drop-table/error"}) {
		t.Errorf("a drop before the create is not exempt: %q", got)
	}
	// An index or column added by the set is exempt; an old one is not.
	res = lintOne(t, sqlparse.Postgres, "3.sql", `ALTER TABLE t ADD COLUMN n text;
CREATE UNIQUE INDEX CONCURRENTLY t_n ON t (n);
ALTER TABLE t ALTER COLUMN n SET NOT NULL, ALTER COLUMN o SET NOT NULL;
`, Options{})
	if got := rulesOf(res); !slices.Equal(got, []string{"concurrently-in-transaction/warning", "set-not-null/error"}) ||
		!strings.Contains(res.Findings[1].Message, "t.o") {
		t.Errorf("findings %q %+v", got, res.Findings)
	}
}

func TestStrict(t *testing.T) {
	src := "-- cutover:allow drop-table\nALTER TABLE t ADD COLUM x int;\n"
	for _, strict := range []bool{false, true} {
		res := lintOne(t, sqlparse.Postgres, "s.sql", src, Options{Strict: strict})
		want := []string{"bad-directive/warning", "parse-error/warning"}
		if strict {
			want = []string{"bad-directive/error", "parse-error/error"}
		}
		if got := rulesOf(res); !slices.Equal(got, want) || res.Failed() != strict {
			t.Errorf("strict %v: %q, failed %v", strict, got, res.Failed())
		}
	}
	// A parse error can be allowed like any finding.
	res := lintOne(t, sqlparse.MySQL, "p.sql", "-- cutover:allow parse-error reason=\"checked by hand\"\nCREATE OR REPLACE TABLE t (a int);", Options{Strict: true})
	if res.Failed() || res.Allowed() != 1 {
		t.Errorf("allowed parse error: %+v", res.Findings)
	}
}

func TestCatalogFacts(t *testing.T) {
	cat := &StaticCatalog{
		Srv: Server{Flavour: sqlparse.Postgres, Major: 10},
		Tables: map[string]Table{
			"tiny": {Name: "tiny", Rows: 40},
			"big": {Name: "big", Rows: 5_000_000, Columns: []Column{
				{Name: "email", Type: sqlparse.Type{Name: "text"}, Nullable: false, HasDefault: true, Default: "''"},
				{Name: "n", Type: sqlparse.Type{Name: "integer"}, Nullable: true},
			}},
		},
	}
	res := lintOne(t, sqlparse.Postgres, "c.sql", `CREATE INDEX i ON tiny (a);
CREATE INDEX j ON big (a);
ALTER TABLE big ALTER COLUMN email DROP DEFAULT, ALTER COLUMN email SET NOT NULL, ALTER COLUMN n TYPE bigint;
ALTER TABLE big ADD COLUMN flag boolean DEFAULT false;
`, Options{Catalog: cat})
	want := []string{
		"index-not-concurrent/info", "index-not-concurrent/error",
		"drop-default/error", "widen-column-type/warning", "table-rewrite/error",
		"table-rewrite/error",
	}
	if got := rulesOf(res); !slices.Equal(got, want) {
		t.Errorf("findings %q, want %q", got, want)
	}
	if !strings.Contains(res.Findings[0].Message, "about 40 rows") || !strings.Contains(res.Findings[5].Message, "before PostgreSQL 11") {
		t.Errorf("messages: %q / %q", res.Findings[0].Message, res.Findings[5].Message)
	}

	my := &StaticCatalog{Tables: map[string]Table{"users": {Name: "users", Rows: -1, Columns: []Column{
		{Name: "phone", Type: sqlparse.Type{Name: "varchar", Params: []int{20}}, Nullable: true},
	}}}}
	res = lintOne(t, sqlparse.MySQL, "m.sql", "ALTER TABLE users MODIFY phone VARCHAR(30) NOT NULL, ALGORITHM=INPLACE, LOCK=NONE;", Options{Catalog: my})
	if got := rulesOf(res); !slices.Equal(got, []string{"widen-column-type/warning", "set-not-null/error"}) {
		t.Errorf("MySQL with catalog: %q", got)
	}
}

func TestInTransactionOption(t *testing.T) {
	idx := "CREATE INDEX CONCURRENTLY i ON t (a);"
	res := lintOne(t, sqlparse.Postgres, "1.sql", idx, Options{InTransaction: true})
	if got := rulesOf(res); !slices.Equal(got, []string{"concurrently-in-transaction/error"}) {
		t.Errorf("wrapped: %q", got)
	}
	for _, optOut := range []string{"-- +goose NO TRANSACTION\n", "-- migrate:up transaction:false\n"} {
		if res := lintOne(t, sqlparse.Postgres, "1.sql", optOut+idx, Options{InTransaction: true}); len(res.Findings) != 0 {
			t.Errorf("%q: %+v", optOut, res.Findings)
		}
	}
}

func TestLoadOrderAndDownFiles(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"V10__c.sql", "V2__b.sql", "V1__a.sql", "sub/V3__x.sql", "0001_a.down.sql", "U2__undo.sql", "notes.txt"} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("SELECT 1;"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files, err := Load([]string{dir, filepath.Join(dir, "V1__a.sql")})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		rel, _ := filepath.Rel(dir, f.Path)
		if f.Skip != "" {
			rel += " (skip)"
		}
		got = append(got, rel)
	}
	want := []string{"0001_a.down.sql (skip)", "U2__undo.sql (skip)", "V1__a.sql", "V2__b.sql", "sub/V3__x.sql", "V10__c.sql"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, err := Load([]string{filepath.Join(dir, "missing.sql")}); err == nil {
		t.Error("a missing path loaded")
	}
}

func TestUpSectionsKeepLines(t *testing.T) {
	src := "-- +goose Up\nCREATE TABLE a (id int);\n-- +goose Down\nDROP TABLE a;\n-- +goose Up\nDROP TABLE b;\n"
	got := upSections(src)
	if strings.Count(got, "\n") != strings.Count(src, "\n") || strings.Contains(got, "DROP TABLE a") || !strings.Contains(got, "DROP TABLE b") {
		t.Errorf("%q", got)
	}
	res := lintOne(t, sqlparse.Postgres, "g.sql", src, Options{})
	if len(res.Findings) != 1 || res.Findings[0].Line != 6 {
		t.Errorf("%+v", res.Findings)
	}
}

func TestJSONReport(t *testing.T) {
	res := lintOne(t, sqlparse.Postgres, "j.sql", "-- cutover:allow drop-default reason=\"writers set it\"\nALTER TABLE t ALTER COLUMN c DROP DEFAULT;\nDROP TABLE t;", Options{})
	var buf bytes.Buffer
	if err := WriteJSON(&buf, res); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OK       bool   `json:"ok"`
		Summary  string `json:"summary"`
		Errors   int    `json:"errors"`
		Allowed  int    `json:"allowed"`
		Findings []struct {
			File, Rule, Severity, Message, Why, Recipe, Statement string
			Line                                                  int
			Allowed                                               *Override
		} `json:"findings"`
		Overrides []Override `json:"overrides"`
		Files     []FileResult
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	if doc.OK || doc.Errors != 1 || doc.Allowed != 1 || len(doc.Findings) != 2 || len(doc.Overrides) != 1 || len(doc.Files) != 1 {
		t.Fatalf("%s", buf.String())
	}
	f := doc.Findings[1]
	if f.File != "j.sql" || f.Line != 3 || f.Rule != "drop-table" || f.Severity != "error" || f.Why == "" || f.Recipe == "" || f.Statement != "DROP TABLE t" {
		t.Errorf("%+v", f)
	}
	if a := doc.Findings[0].Allowed; a == nil || a.Reason != "writers set it" || a.Line != 1 {
		t.Errorf("allowed: %+v", doc.Findings[0])
	}
	if doc.Summary != "1 file, 2 statements: 1 error, 1 allowed" {
		t.Errorf("summary %q", doc.Summary)
	}
}

func TestGitHubReport(t *testing.T) {
	res := lintOne(t, sqlparse.Postgres, "db/a,b:c.sql", "DROP INDEX i;\nDROP TABLE t;\nALTER TABLE t2 DROP COLUMN c; -- cutover:allow drop-column reason=\"100% unused\"", Options{})
	var buf bytes.Buffer
	if err := WriteGitHub(&buf, res); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("%q", lines)
	}
	for i, prefix := range []string{
		"::warning file=db/a%2Cb%3Ac.sql,line=1,title=cutover index-not-concurrent::drops index i without CONCURRENTLY%0AWhy: ",
		"::error file=db/a%2Cb%3Ac.sql,line=2,title=cutover drop-table::drops table t%0AWhy: ",
		"::notice file=db/a%2Cb%3Ac.sql,line=3,title=cutover drop-column::allowed: drops column t2.c%0AReason: 100%25 unused (cutover:allow at line 3)",
		"1 file, 3 statements: 1 error, 1 warning, 1 allowed",
	} {
		if !strings.HasPrefix(lines[i], prefix) {
			t.Errorf("line %d:\n got %s\nwant %s...", i, lines[i], prefix)
		}
	}
}

func TestRulesAreDocumented(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Rules() {
		if seen[r.ID] {
			t.Errorf("rule %s twice", r.ID)
		}
		seen[r.ID] = true
		if r.What == "" || r.Why == "" || r.Recipe == "" || r.Scope == "" {
			t.Errorf("rule %s lacks a text", r.ID)
		}
	}
	if _, ok := RuleByID("nope"); ok {
		t.Error("RuleByID found nope")
	}
}

func TestDialectUnavailableOrMissing(t *testing.T) {
	if _, err := Lint(nil, Options{}); err == nil {
		t.Error("no dialect accepted")
	}
}

func TestREADMEListsEveryRule(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range Rules() {
		if !strings.Contains(string(b), "| `"+r.ID+"` | "+r.Severity.String()) {
			t.Errorf("README's rules table lacks %s (%s)", r.ID, r.Severity)
		}
	}
}
