package sqlparse

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary text to both dialects: the parsers may reject
// it, never crash, and every statement's text must lie inside the input.
func FuzzParse(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("..", "lint", "testdata", "*", "*.sql"))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(string(b))
		}
	}
	f.Add("ALTER ONLINE TABLE t ADD COLUMN x INT, ALGORITHM=NOCOPY; CREATE OR REPLACE TABLE t (a int) WITH SYSTEM VERSIONING;")
	f.Add("DELIMITER $$\nCREATE PROCEDURE p() BEGIN SELECT 1; END$$\n")
	f.Add("DO $x$ BEGIN RAISE NOTICE 'a;'; END $x$; SELECT E'\\'';")
	f.Fuzz(func(t *testing.T, src string) {
		for _, d := range []Dialect{MariaDB, Postgres} {
			sc, err := Parse(d, src)
			if err != nil {
				t.Fatal(err)
			}
			for _, st := range sc.Statements {
				if st.Offset < 0 || st.Offset+len(st.Text) > len(src) || src[st.Offset:st.Offset+len(st.Text)] != st.Text {
					t.Fatalf("%v: statement at %d not in the input: %q", d, st.Offset, st.Text)
				}
				if st.Line < 1 || st.EndLine < st.Line {
					t.Fatalf("%v: lines %d-%d", d, st.Line, st.EndLine)
				}
			}
		}
	})
}
