package lint

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/cutover-dev/cutover/internal/migrate/sqlparse"
)

// File is one migration file to lint.
type File struct {
	// Path names the file in findings.
	Path string
	// Src is its content.
	Src string
	// Skip, when set, says why the file is not linted (a down migration).
	Skip string
}

// downFile matches migrations that undo others: golang-migrate and dbmate
// style *.down.sql, and Flyway's undo migrations U<version>__*.sql.
var downFile = regexp.MustCompile(`(?i)(\.down\.sql$|^U\d[^_]*__.*\.sql$)`)

// Load reads the files and directories at paths: a directory is searched
// for *.sql files at any depth. Down migrations are returned with Skip
// set. Files come back in migration order: by the numbers and words of
// their base names (V2__ before V10__), then by path.
func Load(paths []string) ([]File, error) {
	var found []string
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			found = append(found, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.EqualFold(filepath.Ext(path), ".sql") {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	slices.SortStableFunc(found, compareMigrationPaths)
	found = slices.Compact(found)
	files := make([]File, 0, len(found))
	for _, p := range found {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		f := File{Path: p, Src: string(b)}
		if downFile.MatchString(filepath.Base(p)) {
			f.Skip = "down migration"
		}
		files = append(files, f)
	}
	return files, nil
}

// compareMigrationPaths orders by base name in natural order, then by path.
func compareMigrationPaths(a, b string) int {
	if c := naturalCompare(filepath.Base(a), filepath.Base(b)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// naturalCompare compares strings with runs of digits compared as numbers.
func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		da, db := digitRun(a), digitRun(b)
		if da > 0 && db > 0 {
			na := strings.TrimLeft(a[:da], "0")
			nb := strings.TrimLeft(b[:db], "0")
			if len(na) != len(nb) {
				return len(na) - len(nb)
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return int(a[0]) - int(b[0])
		}
		a, b = a[1:], b[1:]
	}
	return len(a) - len(b)
}

func digitRun(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

// phaseOf returns the phase of a file: the cutover:phase directive when it
// has one, else contract for a file under a directory named contract,
// else expand.
func phaseOf(path string, dirs []directive) string {
	for _, d := range dirs {
		if d.phase != "" {
			return d.phase
		}
	}
	for _, part := range strings.Split(filepath.ToSlash(filepath.Dir(path)), "/") {
		if part == PhaseContract {
			return PhaseContract
		}
	}
	return PhaseExpand
}

// Markers of a file's down section in the tools that keep up and down in
// one file (goose, dbmate), and of the up section after it.
var (
	downMarker = regexp.MustCompile(`(?im)^[ \t]*--[ \t]*(\+goose[ \t]+down|migrate:down)\b.*$`)
	upMarker   = regexp.MustCompile(`(?im)^[ \t]*--[ \t]*(\+goose[ \t]+up|migrate:up)\b.*$`)
)

// upSections blanks out the down sections of src, keeping every newline so
// that lines keep their numbers.
func upSections(src string) string {
	loc := downMarker.FindStringIndex(src)
	if loc == nil {
		return src
	}
	b := []byte(src)
	for loc != nil {
		start := loc[0]
		end := len(src)
		if up := upMarker.FindStringIndex(src[loc[1]:]); up != nil {
			end = loc[1] + up[0]
		}
		for i := start; i < end; i++ {
			if b[i] != '\n' {
				b[i] = ' '
			}
		}
		next := downMarker.FindStringIndex(src[end:])
		if next == nil {
			break
		}
		loc = []int{end + next[0], end + next[1]}
	}
	return string(b)
}

// noTransaction reports whether a file turns its tool's transaction off.
func noTransaction(src string) bool {
	return noTxMarker.MatchString(src)
}

var noTxMarker = regexp.MustCompile(`(?im)^[ \t]*--[ \t]*(\+goose[ \t]+NO[ \t]+TRANSACTION|migrate:up\b.*transaction:false)`)

// describeFiles names the count of files for messages.
func describeFiles(n int) string {
	if n == 1 {
		return "1 file"
	}
	return fmt.Sprintf("%d files", n)
}

// PhaseOf returns the phase of a migration file: contract when it carries
// "-- cutover:phase contract" or rel (its path inside the migrations
// directory) has a directory named contract, else expand.
func PhaseOf(d sqlparse.Dialect, rel, src string) (string, error) {
	sc, err := sqlparse.Parse(d, upSections(src))
	if err != nil {
		return "", err
	}
	return phaseOf(rel, readDirectives(sc.Comments)), nil
}

// NoTransaction reports whether a migration file turns its tool's
// transaction off (-- +goose NO TRANSACTION, -- migrate:up transaction:false).
func NoTransaction(src string) bool { return noTransaction(src) }
