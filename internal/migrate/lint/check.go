package lint

import (
	"fmt"
	"strings"

	"github.com/cutover-dev/cutover/internal/migrate/sqlparse"
)

// statement judges the current statement, then records what it changes.
func (fl *fileLint) statement() {
	st := fl.stmt
	switch st.Kind {
	case sqlparse.KindBegin:
		fl.inTx = true
	case sqlparse.KindCommit:
		fl.inTx = false
	case sqlparse.KindDDL:
		fl.ddl = append(fl.ddl, st)
		if fl.opts.Dialect.IsMySQL() && len(fl.ddl) == 2 {
			fl.emit(RuleMySQLMultipleDDL, SeverityWarning, fmt.Sprintf(
				"second DDL statement in this file (the first is at line %d); MySQL commits each one on its own", fl.ddl[0].Line))
		}
	}
	if st.Err != nil {
		sev := SeverityWarning
		if fl.opts.Strict {
			sev = SeverityError
		}
		fl.emit(RuleParseError, sev, "cannot parse this statement: "+st.Err.Error())
		return
	}
	if fl.opts.Dialect.IsMySQL() {
		fl.mysqlOnline()
	}
	for _, op := range st.Ops {
		fl.op(op)
		fl.schema.apply(op, true)
	}
}

// op judges one schema change.
func (fl *fileLint) op(op sqlparse.Op) {
	s := fl.schema
	my := fl.opts.Dialect.IsMySQL()
	switch op.Kind {
	case sqlparse.OpDropTable:
		if !s.tableNew(op.Table) {
			fl.emit(RuleDropTable, SeverityError, fmt.Sprintf("drops %s %s", op.Object, op.Table))
		}
	case sqlparse.OpRenameTable:
		if !s.tableNew(op.Table) {
			fl.emit(RuleRenameTable, SeverityError, fmt.Sprintf("renames table %s to %s", op.Table, op.NewName))
		}
	case sqlparse.OpAddColumn:
		if !s.tableNew(op.Table) {
			fl.addColumn(op)
		}
	case sqlparse.OpDropColumn:
		if !s.columnNew(op.Table, op.Name) {
			fl.emit(RuleDropColumn, SeverityError, fmt.Sprintf("drops column %s.%s", op.Table, op.Name))
		}
	case sqlparse.OpRenameColumn:
		if !s.columnNew(op.Table, op.Name) {
			fl.emit(RuleRenameColumn, SeverityError, fmt.Sprintf("renames column %s.%s to %s", op.Table, op.Name, op.NewName))
		}
	case sqlparse.OpModifyColumn:
		if !s.columnNew(op.Table, op.Name) {
			fl.modifyColumn(op)
		}
	case sqlparse.OpAlterColumnType:
		if !s.columnNew(op.Table, op.Name) {
			fl.alterColumnType(op)
		}
	case sqlparse.OpSetNotNull:
		if !s.columnNew(op.Table, op.Name) {
			fl.setNotNull(op.Table, op.Name)
		}
	case sqlparse.OpDropDefault:
		if !s.columnNew(op.Table, op.Name) {
			fl.dropDefault(op.Table, op.Name)
		}
	case sqlparse.OpAddConstraint:
		if !s.keysNew(op.Table, op.Constraint.Keys) {
			fl.addConstraint(op)
		}
	case sqlparse.OpCreateIndex:
		if s.tableNew(op.Table) {
			break
		}
		if op.Unique && !s.keysNew(op.Table, op.Keys) {
			fl.emit(RuleAddUnique, SeverityWarning, fmt.Sprintf("creates unique index %s on %s (%s)", op.Name, op.Table, strings.Join(op.Keys, ", ")))
		}
		if !my {
			if op.Concurrent {
				fl.concurrently("CREATE INDEX CONCURRENTLY " + op.Name)
			} else {
				fl.lock(op.Table, RuleIndexNotConcurrent, SeverityError, fmt.Sprintf("creates index %s on %s without CONCURRENTLY", op.Name, op.Table))
			}
		}
	case sqlparse.OpDropIndex:
		if s.indexes[op.Name] || my {
			break
		}
		if op.Concurrent {
			fl.concurrently("DROP INDEX CONCURRENTLY " + op.Name)
		} else {
			fl.lock(op.Table, RuleIndexNotConcurrent, SeverityWarning, fmt.Sprintf("drops index %s without CONCURRENTLY", op.Name))
		}
	case sqlparse.OpRenameEnumValue:
		if e := s.enums[op.Name]; e == nil || !e.created {
			fl.emit(RuleRemoveEnumValue, SeverityError, fmt.Sprintf("renames value %q of enum %s to %q; the old value is gone", op.Values[0], op.Name, op.Values[1]))
		}
	case sqlparse.OpRewrite:
		if !s.tableNew(op.Table) {
			fl.lock(op.Table, RuleTableRewrite, SeverityError, fmt.Sprintf("%s rewrites table %s", op.Name, tableName(op.Table)))
		}
	}
}

func tableName(t string) string {
	if t == "" {
		return "the table"
	}
	return t
}

func (fl *fileLint) addColumn(op sqlparse.Op) {
	c := op.Column
	my := fl.opts.Dialect.IsMySQL()
	if c.NotNull && !c.HasDefault {
		fl.emit(RuleAddNotNullColumn, SeverityError, fmt.Sprintf("adds column %s.%s %s NOT NULL without a default", op.Table, c.Name, c.Type))
	}
	switch {
	case c.Generated:
		fl.lock(op.Table, RuleTableRewrite, SeverityError, fmt.Sprintf("adds stored generated column %s.%s, which rewrites the table", op.Table, c.Name))
	case my:
	case c.Volatile:
		fl.lock(op.Table, RuleTableRewrite, SeverityError, fmt.Sprintf("adds column %s.%s with a volatile default (%s), which rewrites the table", op.Table, c.Name, c.Default))
	case c.MaybeVolatile:
		fl.lock(op.Table, RuleTableRewrite, SeverityWarning, fmt.Sprintf("adds column %s.%s with default %s: if that function is volatile, the table is rewritten", op.Table, c.Name, c.Default))
	case c.HasDefault && fl.server.Flavour == sqlparse.Postgres && fl.server.Major > 0 && fl.server.Major < 11:
		fl.lock(op.Table, RuleTableRewrite, SeverityError, fmt.Sprintf("adds column %s.%s with a default, which rewrites the table before PostgreSQL 11 (the server is %d)", op.Table, c.Name, fl.server.Major))
	}
	if !my {
		if c.Unique || c.PrimaryKey {
			fl.lock(op.Table, RuleIndexNotConcurrent, SeverityError, fmt.Sprintf("adds column %s.%s with an inline unique or primary key index, built under a lock", op.Table, c.Name))
		}
		if c.Check {
			fl.lock(op.Table, RuleConstraintNotValid, SeverityWarning, fmt.Sprintf("adds column %s.%s with an inline check, validated against every row under a lock", op.Table, c.Name))
		}
	}
}

// oldColumn returns what is known of an existing column: from applied
// migrations, else from the catalog.
func (fl *fileLint) oldColumn(table, col string) (sqlparse.Column, bool) {
	if c, ok := fl.schema.column(table, col); ok {
		return c, true
	}
	if fl.opts.Catalog == nil {
		return sqlparse.Column{}, false
	}
	t, ok := fl.opts.Catalog.Table(table)
	if !ok {
		return sqlparse.Column{}, false
	}
	cc, ok := t.column(col)
	if !ok {
		return sqlparse.Column{}, false
	}
	return sqlparse.Column{Name: cc.Name, Type: cc.Type, NotNull: !cc.Nullable, HasDefault: cc.HasDefault, Default: cc.Default}, true
}

// modifyColumn judges MySQL's MODIFY and CHANGE, which restate the whole column.
func (fl *fileLint) modifyColumn(op sqlparse.Op) {
	nw := op.Column
	if nw.Name != op.Name {
		fl.emit(RuleRenameColumn, SeverityError, fmt.Sprintf("renames column %s.%s to %s (CHANGE)", op.Table, op.Name, nw.Name))
	}
	old, ok := fl.oldColumn(op.Table, op.Name)
	if !ok {
		fl.emit(RuleChangeColumnType, SeverityWarning, fmt.Sprintf(
			"restates column %s.%s as %s; its current definition is not known here, so a narrower type, an added NOT NULL or a dropped default cannot be ruled out (pass --applied with the earlier migrations)",
			op.Table, op.Name, describeColumn(nw)))
		return
	}
	fl.typeChange(op.Table, op.Name, old.Type, nw.Type)
	if nw.NotNull && !old.NotNull {
		fl.emit(RuleSetNotNull, SeverityError, fmt.Sprintf("makes column %s.%s NOT NULL", op.Table, op.Name))
	}
	if old.HasDefault && !nw.HasDefault {
		sev := SeverityWarning
		if nw.NotNull {
			sev = SeverityError
		}
		fl.emit(RuleDropDefault, sev, fmt.Sprintf("drops the default (%s) of column %s.%s", old.Default, op.Table, op.Name))
	}
}

func describeColumn(c *sqlparse.Column) string {
	s := c.Type.String()
	if c.NotNull {
		s += " NOT NULL"
	}
	if c.HasDefault {
		s += " DEFAULT " + c.Default
	}
	return s
}

// alterColumnType judges PostgreSQL's ALTER COLUMN ... TYPE.
func (fl *fileLint) alterColumnType(op sqlparse.Op) {
	old, ok := fl.oldColumn(op.Table, op.Name)
	if !ok {
		fl.emit(RuleChangeColumnType, SeverityError, fmt.Sprintf(
			"changes the type of column %s.%s to %s; its current type is not known here, so this cannot be judged a safe widening (pass --applied with the earlier migrations)",
			op.Table, op.Name, op.Column.Type))
		fl.lock(op.Table, RuleTableRewrite, SeverityWarning, fmt.Sprintf("changing the type of %s.%s to %s rewrites the table unless the old type converts without one", op.Table, op.Name, op.Column.Type))
		return
	}
	fl.typeChange(op.Table, op.Name, old.Type, op.Column.Type)
}

// typeChange judges a column's type changing from old to nw.
func (fl *fileLint) typeChange(table, col string, old, nw sqlparse.Type) {
	v := compareTypes(fl.opts.Dialect.IsMySQL(), old, nw, fl.schema.enumValues)
	switch {
	case v.change == typeSame:
		return
	case len(v.removed) > 0:
		fl.emit(RuleRemoveEnumValue, SeverityError, fmt.Sprintf("changes column %s.%s from %s to %s, removing %s", table, col, old, nw, quoteList(v.removed)))
	case v.change == typeWidening:
		fl.emit(RuleWidenColumnType, SeverityWarning, fmt.Sprintf("widens column %s.%s from %s to %s", table, col, old, nw))
	default:
		fl.emit(RuleChangeColumnType, SeverityError, fmt.Sprintf("changes column %s.%s from %s to %s, which is not a safe widening", table, col, old, nw))
	}
	if v.rewrite && !fl.opts.Dialect.IsMySQL() {
		fl.lock(table, RuleTableRewrite, SeverityError, fmt.Sprintf("changing %s.%s from %s to %s rewrites the table", table, col, old, nw))
	}
}

func quoteList(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = "'" + v + "'"
	}
	return strings.Join(q, ", ")
}

func (fl *fileLint) setNotNull(table, col string) {
	if old, ok := fl.oldColumn(table, col); ok && old.NotNull {
		return
	}
	msg := fmt.Sprintf("makes column %s.%s NOT NULL", table, col)
	if fl.phase == PhaseContract && !fl.opts.Dialect.IsMySQL() {
		// Compatible now, but the scan under ACCESS EXCLUSIVE remains.
		fl.lockInAnyPhase(table, RuleSetNotNull, SeverityWarning, msg+"; PostgreSQL scans the whole table under an ACCESS EXCLUSIVE lock unless a validated CHECK (col IS NOT NULL) exists (12+)", true)
		return
	}
	fl.emit(RuleSetNotNull, SeverityError, msg)
}

func (fl *fileLint) dropDefault(table, col string) {
	sev := SeverityWarning
	if old, ok := fl.oldColumn(table, col); ok {
		if !old.HasDefault {
			return
		}
		if old.NotNull {
			sev = SeverityError
		}
	}
	fl.emit(RuleDropDefault, sev, fmt.Sprintf("drops the default of column %s.%s", table, col))
}

func (fl *fileLint) addConstraint(op sqlparse.Op) {
	c := op.Constraint
	my := fl.opts.Dialect.IsMySQL()
	name := c.Name
	if name != "" {
		name += " "
	}
	on := fmt.Sprintf("%s (%s)", op.Table, strings.Join(c.Keys, ", "))
	switch c.Kind {
	case sqlparse.ConstraintUnique:
		fl.emit(RuleAddUnique, SeverityWarning, fmt.Sprintf("adds unique constraint %son %s", name, on))
		if !my && c.UsingIndex == "" {
			fl.lock(op.Table, RuleIndexNotConcurrent, SeverityError, fmt.Sprintf("builds the index of unique constraint %son %s under a lock", name, on))
		}
	case sqlparse.ConstraintPrimaryKey, sqlparse.ConstraintExclusion:
		if !my && c.UsingIndex == "" {
			fl.lock(op.Table, RuleIndexNotConcurrent, SeverityError, fmt.Sprintf("builds the index of %s constraint %son %s under a lock", c.Kind, name, on))
		}
	case sqlparse.ConstraintForeignKey:
		fl.emit(RuleAddForeignKey, SeverityWarning, fmt.Sprintf("adds foreign key %son %s referencing %s", name, on, c.References))
		if !my && !c.NotValid {
			fl.lock(op.Table, RuleConstraintNotValid, SeverityError, fmt.Sprintf("adds foreign key %son %s without NOT VALID", name, on))
		}
	case sqlparse.ConstraintCheck:
		fl.emit(RuleAddCheck, SeverityWarning, fmt.Sprintf("adds check constraint %son %s", name, op.Table))
		if !my && !c.NotValid {
			fl.lock(op.Table, RuleConstraintNotValid, SeverityError, fmt.Sprintf("adds check constraint %son %s without NOT VALID", name, op.Table))
		}
	}
}

// concurrently judges a CONCURRENTLY index change: PostgreSQL refuses it
// in a transaction block.
func (fl *fileLint) concurrently(what string) {
	switch {
	case fl.inTx:
		fl.emit(RuleConcurrentlyInTx, SeverityError, what+" inside BEGIN ... COMMIT")
	case fl.wrapped:
		fl.emit(RuleConcurrentlyInTx, SeverityError, what+" in a file the migration tool runs in a transaction")
	case len(fl.script.Statements) > 1:
		fl.emit(RuleConcurrentlyInTx, SeverityWarning, fmt.Sprintf(
			"%s in a file of %d statements: a tool that sends the file as one query runs them in one implicit transaction", what, len(fl.script.Statements)))
	}
}

// lock records a finding about a lock or rewrite of table, lowered to
// info when the catalog says the table is small.
func (fl *fileLint) lock(table, rule string, sev Severity, msg string) {
	fl.lockInAnyPhase(table, rule, sev, msg, false)
}

// lockInAnyPhase is lock; anyPhase reports a compatibility rule in a
// contract migration too.
func (fl *fileLint) lockInAnyPhase(table, rule string, sev Severity, msg string, anyPhase bool) {
	if fl.opts.Catalog != nil && fl.opts.SmallTableRows > 0 && table != "" {
		if t, ok := fl.opts.Catalog.Table(table); ok && t.Rows >= 0 && t.Rows < fl.opts.SmallTableRows {
			sev = SeverityInfo
			msg += fmt.Sprintf(" (the table is small: about %d rows)", t.Rows)
		}
	}
	fl.record(fl.stmt.Line, snippet(fl.stmt.Text), rule, sev, msg, anyPhase)
}

// mysqlOnline judges the ALGORITHM and LOCK clauses of a MySQL ALTER TABLE,
// CREATE INDEX or DROP INDEX on an existing table.
func (fl *fileLint) mysqlOnline() {
	st := fl.stmt
	table, alters := "", false
	for _, op := range st.Ops {
		switch op.Kind {
		case sqlparse.OpCreateTable, sqlparse.OpDropTable, sqlparse.OpRenameTable:
			continue
		}
		if op.Table == "" || fl.schema.tableNew(op.Table) {
			continue
		}
		if op.Kind == sqlparse.OpOther && strings.HasPrefix(op.Name, "truncate") {
			continue
		}
		table, alters = op.Table, true
	}
	if !alters {
		return
	}
	switch {
	case st.Algorithm == "COPY":
		fl.lock(table, RuleTableRewrite, SeverityError, fmt.Sprintf("ALGORITHM=COPY copies table %s, blocking writes until done", table))
	case st.Lock == "SHARED" || st.Lock == "EXCLUSIVE":
		fl.lock(table, RuleMySQLOnlineDDL, SeverityError, fmt.Sprintf("LOCK=%s blocks writes to %s%s until the change is done", st.Lock, table, map[bool]string{true: " (and reads)"}[st.Lock == "EXCLUSIVE"]))
	case st.Algorithm == "INSTANT":
	case st.Algorithm == "INPLACE" && st.Lock == "NONE":
	case st.Algorithm == "INPLACE":
		fl.lock(table, RuleMySQLOnlineDDL, SeverityWarning, fmt.Sprintf("changes table %s with ALGORITHM=INPLACE but without LOCK=NONE", table))
	case st.Algorithm == "":
		fl.lock(table, RuleMySQLOnlineDDL, SeverityWarning, fmt.Sprintf("changes table %s without ALGORITHM=INSTANT or ALGORITHM=INPLACE, LOCK=NONE", table))
	default:
		fl.lock(table, RuleMySQLOnlineDDL, SeverityWarning, fmt.Sprintf("changes table %s with ALGORITHM=%s", table, st.Algorithm))
	}
}
