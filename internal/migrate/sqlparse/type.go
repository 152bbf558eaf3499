package sqlparse

import (
	"errors"
	"fmt"
)

// ParseType reads a column type as the dialect writes it ("varchar(255)",
// "bigint unsigned", "enum('a','b')", "timestamp with time zone"), for a
// catalog that reports types as text.
func ParseType(d Dialect, sql string) (Type, error) {
	sc, err := Parse(d, fmt.Sprintf("CREATE TABLE t (c %s)", sql))
	if err != nil {
		return Type{}, err
	}
	if len(sc.Statements) != 1 || sc.Statements[0].Err != nil || len(sc.Statements[0].Ops) != 1 ||
		len(sc.Statements[0].Ops[0].Columns) != 1 {
		return Type{}, errors.New("not a column type: " + sql)
	}
	return sc.Statements[0].Ops[0].Columns[0].Type, nil
}
