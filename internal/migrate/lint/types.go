package lint

import (
	"slices"

	"github.com/cutover-dev/cutover/internal/migrate/sqlparse"
)

// typeChange classifies a column type change.
type typeChange int

const (
	typeSame typeChange = iota
	// typeWidening: every value of the old type fits the new one unchanged.
	typeWidening
	// typeIncompatible: values may not fit, or change meaning.
	typeIncompatible
)

// typeVerdict is how a type change looks to the lint.
type typeVerdict struct {
	change typeChange
	// rewrite: the server copies the table to make the change.
	rewrite bool
	// removed are enum values the new type lacks.
	removed []string
}

// integer ranks, by width.
var intRank = map[string]int{
	"tinyint": 1, "smallint": 2, "mediumint": 3, "int": 4, "integer": 4, "bigint": 5,
}

// text ranks of MySQL's string types that hold more than any varchar.
var myTextRank = map[string]int{"tinytext": 1, "text": 2, "mediumtext": 3, "longtext": 4}

// compareTypes judges changing a column from old to nw. enumValues looks up
// a PostgreSQL enum type's values.
func compareTypes(mysql bool, old, nw sqlparse.Type, enumValues func(string) ([]string, bool)) typeVerdict {
	if old.Equal(nw) {
		return typeVerdict{change: typeSame}
	}
	if old.Array != nw.Array {
		return typeVerdict{change: typeIncompatible, rewrite: true}
	}
	if mysql {
		return compareMySQLTypes(old, nw)
	}
	return comparePostgresTypes(old, nw, enumValues)
}

func compareMySQLTypes(old, nw sqlparse.Type) typeVerdict {
	switch {
	case (old.Name == "enum" || old.Name == "set") && old.Name == nw.Name:
		return compareEnums(old.Values, nw.Values, true)
	case intRank[old.Name] > 0 && intRank[nw.Name] > 0:
		ro, rn := intRank[old.Name], intRank[nw.Name]
		wide := old.Unsigned == nw.Unsigned && rn >= ro || old.Unsigned && !nw.Unsigned && rn > ro
		return verdict(wide, true)
	case isMyChar(old.Name) && isMyChar(nw.Name):
		lo, ln := param(old, 0, 1), param(nw, 0, 1)
		if ln < lo {
			return verdict(false, true)
		}
		// A varchar grows in place while its length prefix keeps its size
		// (255 bytes: 63 characters of utf8mb4).
		inPlace := old.Name == "varchar" && nw.Name == "varchar" && (ln*4 <= 255 || lo*4 > 255)
		return verdict(true, !inPlace)
	case (isMyChar(old.Name) || myTextRank[old.Name] > 0) && myTextRank[nw.Name] > 0:
		return verdict(myTextRank[nw.Name] >= myTextRank[old.Name] || isMyChar(old.Name), true)
	case old.Name == "decimal" && nw.Name == "decimal":
		return verdict(decimalWidens(old, nw), true)
	case old.Name == nw.Name && (old.Name == "datetime" || old.Name == "timestamp" || old.Name == "time"):
		return verdict(param(nw, 0, 0) >= param(old, 0, 0), true)
	case old.Name == "float" && nw.Name == "double":
		return verdict(true, true)
	}
	return verdict(false, true)
}

func comparePostgresTypes(old, nw sqlparse.Type, enumValues func(string) ([]string, bool)) typeVerdict {
	ov, oEnum := enumValues(old.Name)
	nv, nEnum := enumValues(nw.Name)
	switch {
	case oEnum && nEnum:
		v := compareEnums(ov, nv, false)
		v.rewrite = true
		return v
	case intRank[old.Name] > 0 && intRank[nw.Name] > 0:
		return verdict(intRank[nw.Name] >= intRank[old.Name], true)
	case isPgChar(old.Name) && (nw.Name == "text" || nw.Name == "varchar"):
		if nw.Name == "text" || len(nw.Params) == 0 {
			return verdict(true, old.Name == "char")
		}
		if len(old.Params) == 0 || old.Name == "text" {
			return verdict(false, true)
		}
		return verdict(nw.Params[0] >= old.Params[0], old.Name == "char" || nw.Params[0] < old.Params[0])
	case old.Name == "numeric" && nw.Name == "numeric":
		if len(nw.Params) == 0 {
			return verdict(true, false)
		}
		if len(old.Params) == 0 {
			return verdict(false, true)
		}
		wide := decimalWidens(old, nw)
		return verdict(wide, !(wide && param(old, 1, 0) == param(nw, 1, 0)))
	case old.Name == nw.Name && (old.Name == "timestamp" || old.Name == "timestamptz" || old.Name == "time"):
		wide := len(nw.Params) == 0 || len(old.Params) > 0 && nw.Params[0] >= old.Params[0]
		return verdict(wide, !wide)
	case old.Name == "real" && nw.Name == "double precision":
		return verdict(true, true)
	}
	return verdict(false, true)
}

func verdict(wide, rewrite bool) typeVerdict {
	if wide {
		return typeVerdict{change: typeWidening, rewrite: rewrite}
	}
	return typeVerdict{change: typeIncompatible, rewrite: rewrite}
}

// compareEnums judges an enum's values changing from old to nw: values
// removed; values appended at the end are a widening (MySQL: in place).
func compareEnums(old, nw []string, mysql bool) typeVerdict {
	var removed []string
	for _, v := range old {
		if !slices.Contains(nw, v) {
			removed = append(removed, v)
		}
	}
	if len(removed) > 0 {
		return typeVerdict{change: typeIncompatible, rewrite: true, removed: removed}
	}
	appended := len(nw) >= len(old) && slices.Equal(nw[:len(old)], old)
	return typeVerdict{change: typeWidening, rewrite: !(mysql && appended)}
}

func decimalWidens(old, nw sqlparse.Type) bool {
	po, so := param(old, 0, 10), param(old, 1, 0)
	pn, sn := param(nw, 0, 10), param(nw, 1, 0)
	return sn >= so && pn-sn >= po-so
}

func param(t sqlparse.Type, i, def int) int {
	if i < len(t.Params) {
		return t.Params[i]
	}
	return def
}

func isMyChar(name string) bool { return name == "varchar" || name == "char" }

func isPgChar(name string) bool { return name == "varchar" || name == "char" || name == "text" }
