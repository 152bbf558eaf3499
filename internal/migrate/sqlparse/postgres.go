//go:build cgo

package sqlparse

import (
	"errors"
	"strings"
	"sync"

	pg "github.com/pganalyze/pg_query_go/v6"
	pgparser "github.com/pganalyze/pg_query_go/v6/parser"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// parsePostgres parses src whole with PostgreSQL's parser; when that fails
// it splits src with PostgreSQL's scanner and parses each statement alone,
// so a statement the grammar rejects spoils only itself.
func parsePostgres(src string) (*Script, error) {
	spans, comments, unterminated := scanEnd(Postgres, src)
	sc := &Script{Comments: comments}
	lines := newLineIndex(src)
	add := func(start, end int, raw *pg.Node, err error) {
		start = skipLeading(Postgres, src, start, end)
		for end > start && (isSpace(src[end-1]) || src[end-1] == ';') {
			end--
		}
		if start >= end {
			return
		}
		st := Statement{Offset: start, Line: lines.line(start), EndLine: lines.line(end - 1), Text: src[start:end]}
		if err != nil {
			st.Err = pgError(err)
			st.Kind = guessKind(st.Text)
		} else {
			readPostgres(&st, raw)
		}
		sc.Statements = append(sc.Statements, st)
	}
	if unterminated >= 0 {
		// PostgreSQL's scanner takes quadratic time on some unclosed
		// comments; the statements before it are parsed one by one.
		for _, sp := range spans {
			if sp.end <= unterminated {
				tree, err := pg.Parse(src[sp.start:sp.end])
				if err == nil && len(tree.Stmts) > 0 {
					add(sp.start, sp.end, tree.Stmts[0].Stmt, nil)
				} else if err != nil {
					add(sp.start, sp.end, nil, err)
				}
				continue
			}
			start := min(sp.start, unterminated)
			add(start, len(src), nil, errors.New("unterminated quote or comment"))
			break
		}
		return sc, nil
	}
	if tree, err := pg.Parse(src); err == nil {
		for _, rs := range tree.Stmts {
			start := int(rs.StmtLocation)
			end := len(src)
			if rs.StmtLen > 0 {
				end = start + int(rs.StmtLen)
			}
			add(start, end, rs.Stmt, nil)
		}
		return sc, nil
	}
	pieces, err := pg.SplitWithScanner(src, false)
	if err != nil { // the scanner fails only on an unterminated quote or comment
		add(0, len(src), nil, err)
		return sc, nil
	}
	at := 0
	for _, piece := range pieces {
		i := strings.Index(src[at:], piece)
		if i < 0 {
			break
		}
		start, end := at+i, at+i+len(piece)
		at = end
		text := src[start:end]
		if strings.TrimSpace(text) == "" {
			continue
		}
		tree, err := pg.Parse(text)
		switch {
		case err != nil:
			add(start, end, nil, err)
		case len(tree.Stmts) == 0: // only comments
		default:
			add(start, end, tree.Stmts[0].Stmt, nil)
		}
	}
	return sc, nil
}

func pgError(err error) error {
	if pe, ok := errors.AsType[*pgparser.Error](err); ok {
		return errors.New(pe.Message)
	}
	return err
}

func readPostgres(st *Statement, node *pg.Node) {
	st.Kind = KindDDL
	switch n := node.Node.(type) {
	case *pg.Node_SelectStmt, *pg.Node_InsertStmt, *pg.Node_UpdateStmt, *pg.Node_DeleteStmt, *pg.Node_MergeStmt,
		*pg.Node_CopyStmt, *pg.Node_VariableSetStmt, *pg.Node_DoStmt, *pg.Node_LockStmt, *pg.Node_CallStmt,
		*pg.Node_ExplainStmt, *pg.Node_NotifyStmt:
		st.Kind = KindOther
	case *pg.Node_TransactionStmt:
		switch n.TransactionStmt.Kind {
		case pg.TransactionStmtKind_TRANS_STMT_BEGIN, pg.TransactionStmtKind_TRANS_STMT_START:
			st.Kind = KindBegin
		case pg.TransactionStmtKind_TRANS_STMT_COMMIT, pg.TransactionStmtKind_TRANS_STMT_ROLLBACK,
			pg.TransactionStmtKind_TRANS_STMT_COMMIT_PREPARED, pg.TransactionStmtKind_TRANS_STMT_ROLLBACK_PREPARED:
			st.Kind = KindCommit
		default:
			st.Kind = KindOther
		}
	case *pg.Node_CreateStmt:
		op := Op{Kind: OpCreateTable, Table: pgTable(n.CreateStmt.Relation), Object: "table", IfExists: n.CreateStmt.IfNotExists}
		for _, e := range n.CreateStmt.TableElts {
			if cd := e.GetColumnDef(); cd != nil {
				op.Columns = append(op.Columns, pgColumn(cd))
			}
		}
		st.Ops = append(st.Ops, op)
	case *pg.Node_ViewStmt:
		st.Ops = append(st.Ops, Op{Kind: OpCreateTable, Table: pgTable(n.ViewStmt.View), Object: "view"})
	case *pg.Node_CreateTableAsStmt:
		obj := "table"
		if n.CreateTableAsStmt.Objtype == pg.ObjectType_OBJECT_MATVIEW {
			obj = "materialized view"
		}
		if n.CreateTableAsStmt.Into != nil {
			st.Ops = append(st.Ops, Op{Kind: OpCreateTable, Table: pgTable(n.CreateTableAsStmt.Into.Rel), Object: obj})
		}
	case *pg.Node_DropStmt:
		readPgDrop(st, n.DropStmt)
	case *pg.Node_RenameStmt:
		r := n.RenameStmt
		switch r.RenameType {
		case pg.ObjectType_OBJECT_TABLE, pg.ObjectType_OBJECT_VIEW, pg.ObjectType_OBJECT_MATVIEW:
			st.Ops = append(st.Ops, Op{Kind: OpRenameTable, Table: pgTable(r.Relation), NewName: r.Newname, IfExists: r.MissingOk})
		case pg.ObjectType_OBJECT_COLUMN:
			st.Ops = append(st.Ops, Op{Kind: OpRenameColumn, Table: pgTable(r.Relation), Name: r.Subname, NewName: r.Newname})
		default:
			st.Ops = append(st.Ops, Op{Kind: OpOther, Name: "rename"})
		}
	case *pg.Node_AlterTableStmt:
		a := n.AlterTableStmt
		if a.Objtype != pg.ObjectType_OBJECT_TABLE {
			st.Ops = append(st.Ops, Op{Kind: OpOther, Name: "alter " + strings.ToLower(strings.TrimPrefix(a.Objtype.String(), "OBJECT_"))})
			return
		}
		table := pgTable(a.Relation)
		for _, c := range a.Cmds {
			if cmd := c.GetAlterTableCmd(); cmd != nil {
				readPgAlterCmd(st, table, cmd)
			}
		}
	case *pg.Node_IndexStmt:
		ix := n.IndexStmt
		op := Op{Kind: OpCreateIndex, Table: pgTable(ix.Relation), Name: ix.Idxname, Unique: ix.Unique || ix.Primary,
			Concurrent: ix.Concurrent, IfExists: ix.IfNotExists}
		for _, p := range ix.IndexParams {
			if e := p.GetIndexElem(); e != nil && e.Name != "" {
				op.Keys = append(op.Keys, e.Name)
			}
		}
		st.Ops = append(st.Ops, op)
	case *pg.Node_CreateEnumStmt:
		op := Op{Kind: OpCreateEnum, Name: pgName(n.CreateEnumStmt.TypeName)}
		for _, v := range n.CreateEnumStmt.Vals {
			op.Values = append(op.Values, v.GetString_().GetSval())
		}
		st.Ops = append(st.Ops, op)
	case *pg.Node_AlterEnumStmt:
		e := n.AlterEnumStmt
		if e.OldVal != "" {
			st.Ops = append(st.Ops, Op{Kind: OpRenameEnumValue, Name: pgName(e.TypeName), Values: []string{e.OldVal, e.NewVal}})
		} else {
			st.Ops = append(st.Ops, Op{Kind: OpAddEnumValue, Name: pgName(e.TypeName), Values: []string{e.NewVal}})
		}
	case *pg.Node_VacuumStmt:
		full := false
		for _, o := range n.VacuumStmt.Options {
			if o.GetDefElem().GetDefname() == "full" {
				full = true
			}
		}
		st.Kind = KindOther
		if full {
			for _, r := range n.VacuumStmt.Rels {
				st.Ops = append(st.Ops, Op{Kind: OpRewrite, Table: pgTable(r.GetVacuumRelation().GetRelation()), Name: "VACUUM FULL"})
			}
		}
	case *pg.Node_ClusterStmt:
		st.Ops = append(st.Ops, Op{Kind: OpRewrite, Table: pgTable(n.ClusterStmt.Relation), Name: "CLUSTER"})
	default:
		st.Ops = append(st.Ops, Op{Kind: OpOther, Name: "other"})
	}
}

func readPgDrop(st *Statement, d *pg.DropStmt) {
	for _, obj := range d.Objects {
		name := pgName(obj.GetList().GetItems())
		switch d.RemoveType {
		case pg.ObjectType_OBJECT_TABLE:
			st.Ops = append(st.Ops, Op{Kind: OpDropTable, Table: name, Object: "table", IfExists: d.MissingOk})
		case pg.ObjectType_OBJECT_VIEW:
			st.Ops = append(st.Ops, Op{Kind: OpDropTable, Table: name, Object: "view", IfExists: d.MissingOk})
		case pg.ObjectType_OBJECT_MATVIEW:
			st.Ops = append(st.Ops, Op{Kind: OpDropTable, Table: name, Object: "materialized view", IfExists: d.MissingOk})
		case pg.ObjectType_OBJECT_INDEX:
			st.Ops = append(st.Ops, Op{Kind: OpDropIndex, Name: name, Concurrent: d.Concurrent, IfExists: d.MissingOk})
		default:
			st.Ops = append(st.Ops, Op{Kind: OpOther, Name: "drop " + strings.ToLower(strings.TrimPrefix(d.RemoveType.String(), "OBJECT_"))})
		}
	}
}

func readPgAlterCmd(st *Statement, table string, cmd *pg.AlterTableCmd) {
	add := func(op Op) {
		op.Table = table
		st.Ops = append(st.Ops, op)
	}
	switch cmd.Subtype {
	case pg.AlterTableType_AT_AddColumn:
		col := pgColumn(cmd.Def.GetColumnDef())
		add(Op{Kind: OpAddColumn, Name: col.Name, Column: &col, IfExists: cmd.MissingOk})
	case pg.AlterTableType_AT_DropColumn:
		add(Op{Kind: OpDropColumn, Name: cmd.Name, IfExists: cmd.MissingOk})
	case pg.AlterTableType_AT_AlterColumnType:
		col := Column{Name: cmd.Name}
		if cd := cmd.Def.GetColumnDef(); cd != nil {
			col.Type = pgType(cd.TypeName)
		}
		add(Op{Kind: OpAlterColumnType, Name: cmd.Name, Column: &col})
	case pg.AlterTableType_AT_SetNotNull:
		add(Op{Kind: OpSetNotNull, Name: cmd.Name})
	case pg.AlterTableType_AT_DropNotNull:
		add(Op{Kind: OpDropNotNull, Name: cmd.Name})
	case pg.AlterTableType_AT_ColumnDefault:
		if cmd.Def == nil {
			add(Op{Kind: OpDropDefault, Name: cmd.Name})
			return
		}
		col := Column{Name: cmd.Name, HasDefault: true, Default: pgExprText(cmd.Def)}
		add(Op{Kind: OpSetDefault, Name: cmd.Name, Column: &col})
	case pg.AlterTableType_AT_AddConstraint:
		if c := cmd.Def.GetConstraint(); c != nil {
			add(Op{Kind: OpAddConstraint, Constraint: pgConstraint(c)})
		}
	case pg.AlterTableType_AT_ValidateConstraint:
		add(Op{Kind: OpValidateConstraint, Name: cmd.Name})
	case pg.AlterTableType_AT_DropConstraint:
		add(Op{Kind: OpDropConstraint, Name: cmd.Name, IfExists: cmd.MissingOk})
	case pg.AlterTableType_AT_SetTableSpace:
		add(Op{Kind: OpRewrite, Name: "SET TABLESPACE"})
	case pg.AlterTableType_AT_SetLogged:
		add(Op{Kind: OpRewrite, Name: "SET LOGGED"})
	case pg.AlterTableType_AT_SetUnLogged:
		add(Op{Kind: OpRewrite, Name: "SET UNLOGGED"})
	default:
		add(Op{Kind: OpOther, Name: strings.ToLower(strings.TrimPrefix(cmd.Subtype.String(), "AT_"))})
	}
}

func pgConstraint(c *pg.Constraint) *Constraint {
	out := &Constraint{Name: c.Conname, NotValid: c.SkipValidation, UsingIndex: c.Indexname}
	keys := c.Keys
	switch c.Contype {
	case pg.ConstrType_CONSTR_UNIQUE:
		out.Kind = ConstraintUnique
	case pg.ConstrType_CONSTR_PRIMARY:
		out.Kind = ConstraintPrimaryKey
	case pg.ConstrType_CONSTR_FOREIGN:
		out.Kind = ConstraintForeignKey
		out.References = pgTable(c.Pktable)
		keys = c.FkAttrs
	case pg.ConstrType_CONSTR_CHECK:
		out.Kind = ConstraintCheck
	case pg.ConstrType_CONSTR_EXCLUSION:
		out.Kind = ConstraintExclusion
	default:
		out.Kind = ConstraintIndex
	}
	for _, k := range keys {
		out.Keys = append(out.Keys, k.GetString_().GetSval())
	}
	return out
}

func pgTable(r *pg.RangeVar) string {
	if r == nil {
		return ""
	}
	if r.Schemaname != "" && r.Schemaname != "public" {
		return r.Schemaname + "." + r.Relname
	}
	return r.Relname
}

// pgName joins a dotted name, leaving out pg_catalog and public.
func pgName(items []*pg.Node) string {
	var parts []string
	for _, it := range items {
		s := it.GetString_().GetSval()
		if len(parts) == 0 && len(items) > 1 && (s == "pg_catalog" || s == "public") {
			continue
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ".")
}

// pgTypeNames maps the parser's internal type names to the usual ones.
var pgTypeNames = map[string]string{
	"int2": "smallint", "int4": "integer", "int8": "bigint", "float4": "real", "float8": "double precision",
	"bool": "boolean", "varchar": "varchar", "bpchar": "char", "timestamp": "timestamp", "timestamptz": "timestamptz",
	"time": "time", "timetz": "timetz", "interval": "interval", "numeric": "numeric", "bit": "bit", "varbit": "varbit",
	"int": "integer", "integer": "integer", "decimal": "numeric", "serial4": "serial", "serial8": "bigserial", "serial2": "smallserial",
}

func pgType(tn *pg.TypeName) Type {
	if tn == nil {
		return Type{}
	}
	name := pgName(tn.Names)
	if canon, ok := pgTypeNames[name]; ok {
		name = canon
	}
	t := Type{Name: name, Array: len(tn.ArrayBounds) > 0}
	for _, m := range tn.Typmods {
		if c := m.GetAConst(); c != nil {
			t.Params = append(t.Params, int(c.GetIval().GetIval()))
		}
	}
	if name == "interval" { // its typmod is a field mask, not a length
		t.Params = nil
	}
	return t
}

// pgSerialTypes draw their default from a sequence.
var pgSerialTypes = map[string]bool{"serial": true, "bigserial": true, "smallserial": true}

func pgColumn(cd *pg.ColumnDef) Column {
	col := Column{Name: cd.Colname, Type: pgType(cd.TypeName), NotNull: cd.IsNotNull}
	if pgSerialTypes[col.Type.Name] {
		col.HasDefault, col.Volatile, col.NotNull = true, true, true
		col.Default = "nextval(...)"
	}
	if cd.RawDefault != nil {
		setPgDefault(&col, cd.RawDefault)
	}
	for _, n := range cd.Constraints {
		c := n.GetConstraint()
		if c == nil {
			continue
		}
		switch c.Contype {
		case pg.ConstrType_CONSTR_NOTNULL:
			col.NotNull = true
		case pg.ConstrType_CONSTR_DEFAULT:
			setPgDefault(&col, c.RawExpr)
		case pg.ConstrType_CONSTR_IDENTITY:
			col.HasDefault, col.Volatile, col.NotNull = true, true, true
			col.Default = "GENERATED AS IDENTITY"
		case pg.ConstrType_CONSTR_GENERATED:
			col.HasDefault, col.Generated = true, true
			col.Default = "GENERATED ALWAYS AS (" + pgExprText(c.RawExpr) + ") STORED"
		case pg.ConstrType_CONSTR_PRIMARY:
			col.PrimaryKey, col.NotNull = true, true
		case pg.ConstrType_CONSTR_UNIQUE:
			col.Unique = true
		case pg.ConstrType_CONSTR_CHECK:
			col.Check = true
		case pg.ConstrType_CONSTR_FOREIGN:
			col.References = pgTable(c.Pktable)
		}
	}
	return col
}

func setPgDefault(col *Column, expr *pg.Node) {
	if c := expr.GetAConst(); c != nil && c.Isnull {
		return // DEFAULT NULL is no default
	}
	col.HasDefault = true
	col.Default = pgExprText(expr)
	switch pgVolatility(expr) {
	case volatile:
		col.Volatile = true
	case unknownVolatility:
		col.MaybeVolatile = true
	}
}

// pgExprText renders an expression back to SQL with PostgreSQL's deparser.
func pgExprText(expr *pg.Node) string {
	tree := &pg.ParseResult{Version: pgVersion(), Stmts: []*pg.RawStmt{{Stmt: &pg.Node{Node: &pg.Node_SelectStmt{SelectStmt: &pg.SelectStmt{
		TargetList: []*pg.Node{{Node: &pg.Node_ResTarget{ResTarget: &pg.ResTarget{Val: expr}}}},
	}}}}}}
	s, err := pg.Deparse(tree)
	if err != nil {
		return "?"
	}
	return strings.TrimPrefix(s, "SELECT ")
}

// pgVersion is the parse tree version the deparser expects, as the parser
// reports it; asked on first use, not when the program starts.
var pgVersion = sync.OnceValue(func() int32 {
	tree, err := pg.Parse("SELECT 1")
	if err != nil {
		return 0
	}
	return tree.Version
})

type volatility int

const (
	notVolatile volatility = iota
	unknownVolatility
	volatile
)

// pgVolatileFuncs are the built-in volatile functions a default calls most.
var pgVolatileFuncs = map[string]bool{
	"random": true, "gen_random_uuid": true, "uuid_generate_v1": true, "uuid_generate_v1mc": true,
	"uuid_generate_v4": true, "uuidv4": true, "uuidv7": true, "clock_timestamp": true, "timeofday": true,
	"nextval": true, "setval": true, "txid_current": true, "random_normal": true,
}

// pgStableFuncs are built-in functions that are stable or immutable, so a
// default that calls them is computed once when a column is added.
var pgStableFuncs = map[string]bool{
	"now": true, "transaction_timestamp": true, "statement_timestamp": true, "current_setting": true,
	"lower": true, "upper": true, "coalesce": true, "concat": true, "length": true, "to_char": true,
	"to_timestamp": true, "date_trunc": true, "jsonb_build_object": true, "json_build_object": true,
	"jsonb_build_array": true, "json_build_array": true, "array_length": true, "make_interval": true,
	"timezone": true, "abs": true, "round": true, "floor": true, "ceil": true, "md5": true, "format": true,
}

// pgVolatility finds the function calls in expr and judges the most volatile.
func pgVolatility(expr *pg.Node) volatility {
	v := notVolatile
	walkProto(expr.ProtoReflect(), func(m protoreflect.Message) {
		fc, ok := m.Interface().(*pg.FuncCall)
		if !ok {
			return
		}
		name := strings.ToLower(pgName(fc.Funcname))
		name = name[strings.LastIndex(name, ".")+1:]
		switch {
		case pgVolatileFuncs[name]:
			v = volatile
		case !pgStableFuncs[name] && v < unknownVolatility:
			v = unknownVolatility
		}
	})
	return v
}

// walkProto calls fn for m and every message under it.
func walkProto(m protoreflect.Message, fn func(protoreflect.Message)) {
	if !m.IsValid() {
		return
	}
	fn(m)
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				walkProto(l.Get(i).Message(), fn)
			}
		case fd.Message() != nil && !fd.IsMap():
			walkProto(v.Message(), fn)
		}
		return true
	})
}
