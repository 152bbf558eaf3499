package migrate

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/cutover-dev/cutover/internal/migrate/lint"
	"github.com/cutover-dev/cutover/internal/migrate/sqlparse"
)

// Migration is one up migration file of the migrations directory.
type Migration struct {
	// Version as the tool reads it from the name ("20240101120000",
	// Flyway's "1.2"); empty for a Flyway repeatable migration.
	Version string `json:"version"`
	// Name is the description part of the file name.
	Name string `json:"name"`
	// Path is the file's path; Rel its path inside the directory.
	Path string `json:"path"`
	Rel  string `json:"-"`
	// Phase is "expand" or "contract" (see lint.PhaseOf).
	Phase string `json:"phase"`
	// Repeatable is set for Flyway's R__ migrations.
	Repeatable bool `json:"repeatable,omitempty"`
	// Checksum is what the tool's history records for the file, when it
	// records one: Flyway's CRC32, cutover's (tool plain) SHA-256.
	Checksum string `json:"checksum,omitempty"`
	// Src is the file's content.
	Src string `json:"-"`
}

// File names of the tools. A file that does not match its tool's pattern
// is not a migration (a README, a down file, a Flyway undo).
var (
	flywayVersioned  = regexp.MustCompile(`^V(\d+(?:[._]\d+)*)__(.+)\.sql$`)
	flywayRepeatable = regexp.MustCompile(`^R__(.+)\.sql$`)
	golangMigrateUp  = regexp.MustCompile(`^(\d+)_(.+)\.up\.sql$`)
	prefixed         = regexp.MustCompile(`^(\d+)[_-](.+)\.sql$`)
	downName         = regexp.MustCompile(`\.down\.sql$`)
)

// parseName reads a file name the way the tool does; ok is false for a
// file the tool does not run up.
func parseName(tool, base string) (version, name string, repeatable, ok bool) {
	switch tool {
	case "flyway":
		if m := flywayVersioned.FindStringSubmatch(base); m != nil {
			return strings.ReplaceAll(m[1], "_", "."), m[2], false, true
		}
		if m := flywayRepeatable.FindStringSubmatch(base); m != nil {
			return "", m[1], true, true
		}
	case "golang-migrate":
		if m := golangMigrateUp.FindStringSubmatch(base); m != nil {
			return m[1], m[2], false, true
		}
	default: // goose, dbmate, plain
		if downName.MatchString(base) {
			return "", "", false, false
		}
		if m := prefixed.FindStringSubmatch(base); m != nil {
			return m[1], m[2], false, true
		}
	}
	return "", "", false, false
}

// Discover reads the up migrations of dir for tool, in the order the tool
// runs them (by version; Flyway's repeatable ones after, by name). A
// directory is searched at any depth, so that contract/ can hold the
// contract migrations (golang-migrate, goose and dbmate read one directory
// only: with them, mark contract files with the comment instead).
func Discover(tool string, d sqlparse.Dialect, dir string) ([]Migration, error) {
	var out []Migration
	seen := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() || !strings.EqualFold(filepath.Ext(path), ".sql") {
			return nil
		}
		version, name, rep, ok := parseName(tool, e.Name())
		if !ok {
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		key := version
		if rep {
			key = "R:" + name
		}
		if other, dup := seen[key]; dup {
			return fmt.Errorf("%w: %s and %s have the same version %s; give one of them a new version", ErrHistory, other, rel, version)
		}
		seen[key] = rel
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		src := string(b)
		phase, err := lint.PhaseOf(d, rel, src)
		if err != nil {
			return err
		}
		m := Migration{Version: version, Name: name, Path: path, Rel: rel, Phase: phase, Repeatable: rep, Src: src}
		switch tool {
		case "flyway":
			m.Checksum = strconv.FormatInt(int64(flywayChecksum(src)), 10)
		case "plain":
			m.Checksum = plainChecksum(src)
		}
		out = append(out, m)
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(out, func(a, b Migration) int {
		if a.Repeatable != b.Repeatable {
			if a.Repeatable {
				return 1
			}
			return -1
		}
		if c := CompareVersions(a.Version, b.Version); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, nil
}

// flywayChecksum is Flyway's checksum of a SQL file: a CRC32 over its lines
// without their line endings (a leading byte order mark dropped), as a
// signed 32-bit integer.
func flywayChecksum(src string) int32 {
	src = strings.TrimPrefix(src, "\ufeff")
	h := crc32.NewIEEE()
	sc := bufio.NewScanner(strings.NewReader(src))
	sc.Buffer(make([]byte, 64*1024), len(src)+1)
	for sc.Scan() {
		h.Write([]byte(strings.TrimSuffix(sc.Text(), "\r")))
	}
	return int32(h.Sum32())
}

// plainChecksum is the checksum cutover records for a plain migration.
func plainChecksum(src string) string {
	sum := sha256.Sum256([]byte(src))
	return hex.EncodeToString(sum[:])
}

// CompareVersions orders migration versions: parts separated by dots are
// compared as numbers ("1.10" after "1.9", "10" after "9"); leading zeros
// do not count.
func CompareVersions(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) || i < len(pb); i++ {
		var x, y string
		if i < len(pa) {
			x = strings.TrimLeft(pa[i], "0")
		}
		if i < len(pb) {
			y = strings.TrimLeft(pb[i], "0")
		}
		if len(x) != len(y) {
			return len(x) - len(y)
		}
		if c := strings.Compare(x, y); c != 0 {
			return c
		}
	}
	return 0
}

// sameVersion reports whether two versions are equal as numbers.
func sameVersion(a, b string) bool { return CompareVersions(a, b) == 0 }
