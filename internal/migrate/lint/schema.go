package lint

import (
	"slices"

	"github.com/cutover-dev/cutover/internal/migrate/sqlparse"
)

// schema is what the lint knows of the database as the migrations change
// it: the objects the pending set creates (exempt from the rules, since
// the serving version cannot use them yet), and the definitions read from
// applied migrations. It is not safe for concurrent use.
type schema struct {
	tables  map[string]*tableInfo
	indexes map[string]bool // name -> created in the pending set
	enums   map[string]*enumInfo
}

type tableInfo struct {
	created bool // by the pending set
	cols    map[string]*colInfo
}

type colInfo struct {
	def     sqlparse.Column
	created bool // by the pending set
}

type enumInfo struct {
	values  []string
	created bool
}

func newSchema() *schema {
	return &schema{tables: map[string]*tableInfo{}, indexes: map[string]bool{}, enums: map[string]*enumInfo{}}
}

// tableNew reports whether the pending set created the table.
func (s *schema) tableNew(name string) bool {
	t := s.tables[name]
	return t != nil && t.created
}

// columnNew reports whether the pending set created the column (or its table).
func (s *schema) columnNew(table, col string) bool {
	t := s.tables[table]
	if t == nil {
		return false
	}
	if t.created {
		return true
	}
	c := t.cols[col]
	return c != nil && c.created
}

// keysNew reports whether the pending set created the table or every one
// of keys (false for no keys on an older table).
func (s *schema) keysNew(table string, keys []string) bool {
	if s.tableNew(table) {
		return true
	}
	if len(keys) == 0 {
		return false
	}
	for _, k := range keys {
		if !s.columnNew(table, k) {
			return false
		}
	}
	return true
}

// column returns the known definition of an existing column.
func (s *schema) column(table, col string) (sqlparse.Column, bool) {
	if t := s.tables[table]; t != nil {
		if c := t.cols[col]; c != nil {
			return c.def, true
		}
	}
	return sqlparse.Column{}, false
}

func (s *schema) table(name string) *tableInfo {
	t := s.tables[name]
	if t == nil {
		t = &tableInfo{cols: map[string]*colInfo{}}
		s.tables[name] = t
	}
	return t
}

// apply records op; pending says whether op belongs to the pending set
// (its objects are then new) or to an applied migration.
func (s *schema) apply(op sqlparse.Op, pending bool) {
	switch op.Kind {
	case sqlparse.OpCreateTable:
		if op.IfExists && s.tables[op.Table] != nil {
			return
		}
		t := &tableInfo{created: pending, cols: map[string]*colInfo{}}
		for _, c := range op.Columns {
			t.cols[c.Name] = &colInfo{def: c, created: pending}
		}
		s.tables[op.Table] = t
	case sqlparse.OpDropTable:
		delete(s.tables, op.Table)
	case sqlparse.OpRenameTable:
		t := s.table(op.Table)
		delete(s.tables, op.Table)
		s.tables[op.NewName] = t
	case sqlparse.OpAddColumn:
		t := s.table(op.Table)
		if op.IfExists && t.cols[op.Name] != nil {
			return
		}
		t.cols[op.Name] = &colInfo{def: *op.Column, created: pending || t.created}
	case sqlparse.OpDropColumn:
		delete(s.table(op.Table).cols, op.Name)
	case sqlparse.OpRenameColumn:
		t := s.table(op.Table)
		if c := t.cols[op.Name]; c != nil {
			delete(t.cols, op.Name)
			c.def.Name = op.NewName
			t.cols[op.NewName] = c
		}
	case sqlparse.OpModifyColumn:
		t := s.table(op.Table)
		c := t.cols[op.Name]
		delete(t.cols, op.Name)
		created := c != nil && c.created
		t.cols[op.Column.Name] = &colInfo{def: *op.Column, created: created}
	case sqlparse.OpAlterColumnType:
		if c := s.table(op.Table).cols[op.Name]; c != nil {
			c.def.Type = op.Column.Type
		}
	case sqlparse.OpSetNotNull, sqlparse.OpDropNotNull:
		if c := s.table(op.Table).cols[op.Name]; c != nil {
			c.def.NotNull = op.Kind == sqlparse.OpSetNotNull
		}
	case sqlparse.OpSetDefault:
		if c := s.table(op.Table).cols[op.Name]; c != nil {
			c.def.HasDefault, c.def.Default = true, op.Column.Default
		}
	case sqlparse.OpDropDefault:
		if c := s.table(op.Table).cols[op.Name]; c != nil {
			c.def.HasDefault, c.def.Default = false, ""
		}
	case sqlparse.OpCreateIndex:
		s.indexes[op.Name] = pending
	case sqlparse.OpDropIndex:
		delete(s.indexes, op.Name)
	case sqlparse.OpCreateEnum:
		s.enums[op.Name] = &enumInfo{values: slices.Clone(op.Values), created: pending}
	case sqlparse.OpAddEnumValue:
		if e := s.enums[op.Name]; e != nil {
			e.values = append(e.values, op.Values[0])
		}
	case sqlparse.OpRenameEnumValue:
		if e := s.enums[op.Name]; e != nil {
			if i := slices.Index(e.values, op.Values[0]); i >= 0 {
				e.values[i] = op.Values[1]
			}
		}
	}
}

// enumValues returns the values of a PostgreSQL enum type the schema knows.
func (s *schema) enumValues(name string) ([]string, bool) {
	e := s.enums[name]
	if e == nil {
		return nil, false
	}
	return e.values, true
}
