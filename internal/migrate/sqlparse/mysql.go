package sqlparse

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/format"
	"github.com/pingcap/tidb/pkg/parser/mysql"
	"github.com/pingcap/tidb/pkg/parser/types"

	// The parser needs a driver for literal values; this is its own small one.
	_ "github.com/pingcap/tidb/pkg/parser/test_driver"
)

// parseMySQL splits src at its delimiters and parses each statement alone,
// so a statement the grammar rejects spoils only itself.
func parseMySQL(d Dialect, src string) *Script {
	spans, comments := scan(d, src)
	lines := newLineIndex(src)
	p := parser.New() // not safe for concurrent use: one per call
	sc := &Script{Comments: comments}
	for _, sp := range spans {
		st := Statement{
			Offset:  sp.start,
			Line:    lines.line(sp.start),
			EndLine: lines.line(max(sp.start, sp.end-1)),
			Text:    src[sp.start:sp.end],
		}
		node, err := parseOne(p, st.Text)
		if errors.Is(err, errParserPanic) {
			p = parser.New() // its state is unknown after a panic
		}
		if err != nil {
			st.Err = mysqlError(err)
			st.Kind = guessKind(st.Text)
		} else {
			readMySQL(&st, node)
		}
		sc.Statements = append(sc.Statements, st)
	}
	return sc
}

// errParserPanic marks a statement the parser panicked on.
var errParserPanic = errors.New("the MySQL parser failed on this statement")

// parseOne parses one statement, turning a panic of the parser (it has
// some, on literals its value driver does not handle) into an error.
func parseOne(p *parser.Parser, text string) (node ast.StmtNode, err error) {
	defer func() {
		if r := recover(); r != nil {
			node, err = nil, errParserPanic
		}
	}()
	return p.ParseOneStmt(text, "", "")
}

// tidbPosition finds the "line L column C near ..." part of the parser's message.
var tidbPosition = regexp.MustCompile(`line \d+ column \d+ near "([^"]{0,40})`)

// mysqlError shortens the parser's error to what a user can act on.
func mysqlError(err error) error {
	if errors.Is(err, errParserPanic) {
		return err
	}
	msg := err.Error()
	if m := tidbPosition.FindStringSubmatch(msg); m != nil {
		near := strings.TrimSpace(strings.SplitN(m[1], "\n", 2)[0])
		return fmt.Errorf("syntax error near %q", near)
	}
	if strings.Contains(msg, "Unknown ALGORITHM") {
		return errors.New("unknown ALGORITHM (MariaDB's NOCOPY is not in the MySQL grammar)")
	}
	if errors.Is(err, parser.ErrSyntax) {
		return errors.New("syntax error")
	}
	if i := strings.Index(msg, "]"); strings.HasPrefix(msg, "[") && i > 0 {
		msg = msg[i+1:]
	}
	return errors.New(strings.TrimSpace(msg))
}

// guessKind tells DDL from other statements by the first keyword, for a
// statement the parser could not read.
func guessKind(text string) Kind {
	switch strings.ToUpper(firstWord(text)) {
	case "CREATE", "ALTER", "DROP", "RENAME", "TRUNCATE":
		return KindDDL
	case "BEGIN", "START":
		return KindBegin
	case "COMMIT", "ROLLBACK":
		return KindCommit
	}
	return KindOther
}

// firstWord returns the first word of text, "" for none.
func firstWord(text string) string {
	if f := strings.Fields(text); len(f) > 0 {
		return f[0]
	}
	return ""
}

func readMySQL(st *Statement, node ast.StmtNode) {
	if _, ok := node.(ast.DDLNode); ok {
		st.Kind = KindDDL
	}
	switch n := node.(type) {
	case *ast.BeginStmt:
		st.Kind = KindBegin
	case *ast.CommitStmt, *ast.RollbackStmt:
		st.Kind = KindCommit
	case *ast.CreateTableStmt:
		op := Op{Kind: OpCreateTable, Table: myTable(n.Table), IfExists: n.IfNotExists}
		for _, c := range n.Cols {
			op.Columns = append(op.Columns, myColumn(c))
		}
		st.Ops = append(st.Ops, op)
	case *ast.DropTableStmt:
		obj := "table"
		if n.IsView {
			obj = "view"
		}
		for _, t := range n.Tables {
			st.Ops = append(st.Ops, Op{Kind: OpDropTable, Table: myTable(t), Object: obj, IfExists: n.IfExists})
		}
	case *ast.RenameTableStmt:
		for _, tt := range n.TableToTables {
			st.Ops = append(st.Ops, Op{Kind: OpRenameTable, Table: myTable(tt.OldTable), NewName: myTable(tt.NewTable)})
		}
	case *ast.CreateIndexStmt:
		st.Ops = append(st.Ops, Op{Kind: OpCreateIndex, Table: myTable(n.Table), Name: strings.ToLower(n.IndexName),
			Unique: n.KeyType == ast.IndexKeyTypeUnique, Keys: myKeys(n.IndexPartSpecifications), IfExists: n.IfNotExists})
		myLockAlg(st, n.LockAlg)
	case *ast.DropIndexStmt:
		st.Ops = append(st.Ops, Op{Kind: OpDropIndex, Table: myTable(n.Table), Name: strings.ToLower(n.IndexName), IfExists: n.IfExists})
		myLockAlg(st, n.LockAlg)
	case *ast.AlterTableStmt:
		table := myTable(n.Table)
		for _, spec := range n.Specs {
			readMySQLSpec(st, table, spec)
		}
	case *ast.TruncateTableStmt:
		st.Ops = append(st.Ops, Op{Kind: OpOther, Table: myTable(n.Table), Name: "truncate table"})
	default:
		if st.Kind == KindDDL {
			st.Ops = append(st.Ops, Op{Kind: OpOther, Name: strings.ToLower(strings.Join(strings.Fields(st.Text + " ")[:1], ""))})
		}
	}
}

func readMySQLSpec(st *Statement, table string, spec *ast.AlterTableSpec) {
	add := func(op Op) {
		op.Table = table
		st.Ops = append(st.Ops, op)
	}
	switch spec.Tp {
	case ast.AlterTableAddColumns:
		for _, c := range spec.NewColumns {
			col := myColumn(c)
			add(Op{Kind: OpAddColumn, Name: col.Name, Column: &col, IfExists: spec.IfNotExists})
		}
		for _, c := range spec.NewConstraints {
			add(Op{Kind: OpAddConstraint, Constraint: myConstraint(c)})
		}
	case ast.AlterTableDropColumn:
		add(Op{Kind: OpDropColumn, Name: myColName(spec.OldColumnName), IfExists: spec.IfExists})
	case ast.AlterTableRenameColumn:
		add(Op{Kind: OpRenameColumn, Name: myColName(spec.OldColumnName), NewName: myColName(spec.NewColumnName)})
	case ast.AlterTableModifyColumn, ast.AlterTableChangeColumn:
		col := myColumn(spec.NewColumns[0])
		old := col.Name
		if spec.Tp == ast.AlterTableChangeColumn {
			old = myColName(spec.OldColumnName)
		}
		add(Op{Kind: OpModifyColumn, Name: old, Column: &col, IfExists: spec.IfExists})
	case ast.AlterTableAlterColumn:
		c := spec.NewColumns[0]
		if len(c.Options) == 1 {
			col := Column{Name: myColName(c.Name), HasDefault: true, Default: restore(c.Options[0].Expr)}
			add(Op{Kind: OpSetDefault, Name: col.Name, Column: &col})
		} else {
			add(Op{Kind: OpDropDefault, Name: myColName(c.Name)})
		}
	case ast.AlterTableRenameTable:
		add(Op{Kind: OpRenameTable, NewName: myTable(spec.NewTable)})
	case ast.AlterTableAddConstraint:
		add(Op{Kind: OpAddConstraint, Constraint: myConstraint(spec.Constraint), IfExists: spec.Constraint.IfNotExists})
	case ast.AlterTableDropIndex:
		add(Op{Kind: OpDropIndex, Name: strings.ToLower(spec.Name), IfExists: spec.IfExists})
	case ast.AlterTableDropForeignKey, ast.AlterTableDropCheck:
		add(Op{Kind: OpDropConstraint, Name: strings.ToLower(spec.Name), IfExists: spec.IfExists})
	case ast.AlterTableDropPrimaryKey:
		add(Op{Kind: OpDropConstraint, Name: "primary"})
	case ast.AlterTableAlgorithm:
		st.Algorithm = strings.ToUpper(spec.Algorithm.String())
	case ast.AlterTableLock:
		st.Lock = strings.ToUpper(spec.LockType.String())
	case ast.AlterTableOption:
		for _, o := range spec.Options {
			if o.Tp == ast.TableOptionCharset && o.UintValue == ast.TableOptionCharsetWithConvertTo {
				add(Op{Kind: OpRewrite, Name: "CONVERT TO CHARACTER SET " + o.StrValue})
			}
		}
		add(Op{Kind: OpOther, Name: "table options"})
	default:
		add(Op{Kind: OpOther, Name: "alter table"})
	}
}

func myLockAlg(st *Statement, la *ast.IndexLockAndAlgorithm) {
	if la == nil {
		return
	}
	if la.AlgorithmTp != ast.AlgorithmTypeDefault {
		st.Algorithm = strings.ToUpper(la.AlgorithmTp.String())
	}
	if la.LockTp != ast.LockTypeDefault && la.LockTp != 0 {
		st.Lock = strings.ToUpper(la.LockTp.String())
	}
}

func myTable(t *ast.TableName) string {
	if t == nil {
		return ""
	}
	if t.Schema.O != "" {
		return strings.ToLower(t.Schema.O + "." + t.Name.O)
	}
	return strings.ToLower(t.Name.O)
}

func myColName(c *ast.ColumnName) string {
	if c == nil {
		return ""
	}
	return strings.ToLower(c.Name.O)
}

func myKeys(parts []*ast.IndexPartSpecification) []string {
	var keys []string
	for _, p := range parts {
		if p.Column != nil {
			keys = append(keys, myColName(p.Column))
		}
	}
	return keys
}

func myColumn(c *ast.ColumnDef) Column {
	col := Column{Name: myColName(c.Name), Type: myType(c.Tp)}
	for _, o := range c.Options {
		switch o.Tp {
		case ast.ColumnOptionNotNull:
			col.NotNull = true
		case ast.ColumnOptionPrimaryKey:
			col.NotNull, col.PrimaryKey = true, true
		case ast.ColumnOptionUniqKey:
			col.Unique = true
		case ast.ColumnOptionDefaultValue:
			col.HasDefault = true
			col.Default = restore(o.Expr)
		case ast.ColumnOptionAutoIncrement:
			col.HasDefault = true
			col.Default = "AUTO_INCREMENT"
		case ast.ColumnOptionGenerated:
			col.Generated = o.Stored
			col.HasDefault = true // a generated column needs no value from inserts
			col.Default = "AS (" + restore(o.Expr) + ")"
		case ast.ColumnOptionCheck:
			col.Check = true
		case ast.ColumnOptionReference:
			if o.Refer != nil {
				col.References = myTable(o.Refer.Table)
			}
		}
	}
	if col.HasDefault && strings.EqualFold(col.Default, "NULL") && col.NotNull {
		col.HasDefault = false
	}
	return col
}

func myType(ft *types.FieldType) Type {
	if ft == nil {
		return Type{}
	}
	t := Type{Name: types.TypeToStr(ft.GetType(), ft.GetCharset()), Unsigned: mysql.HasUnsignedFlag(ft.GetFlag())}
	switch ft.GetType() {
	case mysql.TypeEnum, mysql.TypeSet:
		t.Values = append([]string(nil), ft.GetElems()...)
	case mysql.TypeVarchar, mysql.TypeString, mysql.TypeVarString, mysql.TypeBit:
		if ft.GetFlen() > 0 {
			t.Params = []int{ft.GetFlen()}
		}
	case mysql.TypeNewDecimal:
		if ft.GetFlen() > 0 {
			t.Params = []int{ft.GetFlen()}
			if ft.GetDecimal() > 0 {
				t.Params = append(t.Params, ft.GetDecimal())
			}
		}
	case mysql.TypeDatetime, mysql.TypeTimestamp, mysql.TypeDuration:
		if ft.GetDecimal() > 0 {
			t.Params = []int{ft.GetDecimal()}
		}
	}
	// Integer display widths (INT(11)) change nothing and are left out.
	return t
}

func myConstraint(c *ast.Constraint) *Constraint {
	out := &Constraint{Name: strings.ToLower(c.Name), Keys: myKeys(c.Keys)}
	switch c.Tp {
	case ast.ConstraintUniq, ast.ConstraintUniqKey, ast.ConstraintUniqIndex:
		out.Kind = ConstraintUnique
	case ast.ConstraintPrimaryKey:
		out.Kind = ConstraintPrimaryKey
	case ast.ConstraintForeignKey:
		out.Kind = ConstraintForeignKey
		if c.Refer != nil {
			out.References = myTable(c.Refer.Table)
		}
	case ast.ConstraintCheck:
		out.Kind = ConstraintCheck
	default:
		out.Kind = ConstraintIndex
	}
	return out
}

// restore renders an expression back to SQL.
func restore(n ast.Node) string {
	if n == nil {
		return ""
	}
	var b strings.Builder
	if err := n.Restore(format.NewRestoreCtx(format.DefaultRestoreFlags|format.RestoreStringWithoutCharset, &b)); err != nil {
		return "?"
	}
	return b.String()
}
