// Package lint judges database migrations before a deploy runs them: it
// finds the schema changes that break the version still serving (which
// keeps running beside the new one during the standby window, a canary and
// a fleet's flip, and again after a rollback), and the ones that lock or
// rewrite a table under it. Each finding has a stable rule ID, a severity,
// the file and line, why it breaks, and the safe recipe.
//
// The lint reads MySQL, MariaDB and PostgreSQL with real parsers (see
// package sqlparse). It needs no database: objects the pending migrations
// create are exempt, contract migrations may drop and rename, and an
// optional Catalog of facts from the live database (row estimates, column
// definitions, server version) makes its verdicts more precise.
package lint

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cutover-dev/cutover/internal/migrate/sqlparse"
)

// ErrUnknownRule reports an Allow naming no rule.
var ErrUnknownRule = errors.New("unknown rule")

// DefaultSmallTableRows is Options.SmallTableRows when it is zero.
const DefaultSmallTableRows = 10_000

// Options configure one Lint. The zero value is not usable: Dialect is required.
type Options struct {
	Dialect sqlparse.Dialect
	// Strict makes statements the parser cannot read, and cutover:
	// comments the lint cannot read, errors instead of warnings.
	Strict bool
	// Allow are overrides for every file (or the file they name), each
	// recorded with its reason in the Result.
	Allow []Allow
	// Catalog gives facts about the live database; nil lints offline.
	Catalog Catalog
	// Applied are migrations already applied: they are read for the
	// schema they build (column types, nullability, defaults, enum
	// values), not linted.
	Applied []File
	// SmallTableRows: with a Catalog, a table estimated at fewer rows has
	// its lock and rewrite findings lowered to info. Default
	// DefaultSmallTableRows; negative turns it off.
	SmallTableRows int64
	// InTransaction says the migration tool runs each file in one
	// transaction (goose, dbmate and Flyway do by default on PostgreSQL),
	// unless the file turns that off (-- +goose NO TRANSACTION,
	// -- migrate:up transaction:false).
	InTransaction bool
}

// Lint judges files, the pending migrations in the order they run. It
// fails only on bad options or a dialect this build cannot parse
// (sqlparse.ErrUnavailable); everything it finds is in the Result.
func Lint(files []File, opts Options) (*Result, error) {
	if opts.Dialect == 0 {
		return nil, errors.New("lint: no dialect")
	}
	for _, a := range opts.Allow {
		if _, ok := RuleByID(a.Rule); !ok {
			return nil, fmt.Errorf("%w %q; see the rules with cutover lint-sql --rules", ErrUnknownRule, a.Rule)
		}
	}
	if opts.SmallTableRows == 0 {
		opts.SmallTableRows = DefaultSmallTableRows
	}
	l := &linter{opts: opts, schema: newSchema(), res: &Result{Files: []FileResult{}, Findings: []Finding{}, Overrides: []Override{}}}
	if opts.Catalog != nil {
		l.server = opts.Catalog.Server()
	}
	for _, f := range opts.Applied {
		if f.Skip != "" {
			continue
		}
		sc, err := sqlparse.Parse(opts.Dialect, upSections(f.Src))
		if err != nil {
			return nil, err
		}
		for _, st := range sc.Statements {
			for _, op := range st.Ops {
				l.schema.apply(op, false)
			}
		}
	}
	for _, f := range files {
		if err := l.file(f); err != nil {
			return nil, err
		}
	}
	return l.res, nil
}

// linter is the state of one Lint call.
type linter struct {
	opts   Options
	schema *schema
	server Server
	res    *Result
	used   map[Override]bool
}

// fileLint is the state of the lint of one file.
type fileLint struct {
	*linter
	path    string
	phase   string
	script  *sqlparse.Script
	allows  map[int][]directive // statement index -> its cutover:allow comments
	wrapped bool                // the tool runs the file in a transaction
	stmt    *sqlparse.Statement
	stmtIdx int
	inTx    bool
	ddl     []*sqlparse.Statement // the DDL statements so far
	found   []Finding
}

func (l *linter) file(f File) error {
	if f.Skip != "" {
		l.res.Files = append(l.res.Files, FileResult{Path: f.Path, Phase: PhaseExpand, Skipped: f.Skip})
		return nil
	}
	src := upSections(f.Src)
	sc, err := sqlparse.Parse(l.opts.Dialect, src)
	if err != nil {
		return err
	}
	dirs := readDirectives(sc.Comments)
	fl := &fileLint{linter: l, path: f.Path, phase: phaseOf(f.Path, dirs), script: sc,
		allows: map[int][]directive{}, wrapped: l.opts.InTransaction && !noTransaction(src)}
	fl.attach(dirs)
	l.res.Files = append(l.res.Files, FileResult{Path: f.Path, Phase: fl.phase, Statements: len(sc.Statements)})
	for i := range sc.Statements {
		fl.stmt, fl.stmtIdx = &sc.Statements[i], i
		fl.statement()
	}
	slices.SortStableFunc(fl.found, func(a, b Finding) int { return a.Line - b.Line })
	l.res.Findings = append(l.res.Findings, fl.found...)
	return nil
}

// attach gives each cutover:allow comment to its statement: the one the
// comment is inside, or ends on the comment's line, or else the next one.
// Unreadable comments become bad-directive findings.
func (fl *fileLint) attach(dirs []directive) {
	sts := fl.script.Statements
	for _, d := range dirs {
		if d.err != nil {
			fl.emitAt(d.line, "", RuleBadDirective, fl.directiveSeverity(), d.err.Error())
			continue
		}
		if len(d.rules) == 0 {
			continue
		}
		idx := -1
		for i, st := range sts {
			end := st.Offset + len(st.Text)
			if d.offset >= st.Offset && d.offset < end || d.offset >= end && st.EndLine == d.line {
				idx = i
				break
			}
			if st.Offset > d.offset {
				idx = i
				break
			}
		}
		if idx < 0 {
			fl.emitAt(d.line, "", RuleBadDirective, fl.directiveSeverity(), "cutover:allow "+strings.Join(d.rules, ",")+" comes after the last statement and allows nothing")
			continue
		}
		fl.allows[idx] = append(fl.allows[idx], d)
	}
}

// directiveSeverity is the severity of a bad-directive finding.
func (fl *fileLint) directiveSeverity() Severity {
	if fl.opts.Strict {
		return SeverityError
	}
	return SeverityWarning
}

// snippet returns a statement's first line, shortened.
func snippet(text string) string {
	line, _, more := strings.Cut(text, "\n")
	line = strings.TrimSpace(line)
	if len(line) > 100 {
		line, more = line[:97], true
	}
	if more {
		line += " ..."
	}
	return line
}

// emit records a finding of rule on the current statement.
func (fl *fileLint) emit(rule string, sev Severity, msg string) {
	fl.emitAt(fl.stmt.Line, snippet(fl.stmt.Text), rule, sev, msg)
}

func (fl *fileLint) emitAt(line int, stmt, ruleID string, sev Severity, msg string) {
	fl.record(line, stmt, ruleID, sev, msg, false)
}

// record records a finding; a compatibility rule is skipped in a contract
// migration unless anyPhase.
func (fl *fileLint) record(line int, stmt, ruleID string, sev Severity, msg string, anyPhase bool) {
	r := rulesByID[ruleID]
	if !r.appliesTo(fl.opts.Dialect.IsMySQL()) {
		return
	}
	if r.Compat && fl.phase == PhaseContract && !anyPhase {
		return
	}
	f := Finding{File: fl.path, Line: line, Rule: ruleID, Severity: sev, Message: msg, Why: r.Why, Recipe: r.Recipe, Statement: stmt}
	if stmt != "" {
		f.Allowed = fl.override(ruleID)
	}
	fl.found = append(fl.found, f)
}

// override returns the override that allows rule on the current statement.
func (fl *fileLint) override(rule string) *Override {
	var o *Override
	for _, d := range fl.allows[fl.stmtIdx] {
		if slices.Contains(d.rules, rule) {
			o = &Override{Rule: rule, Reason: d.reason, Source: SourceInline, File: fl.path, Line: d.line}
			break
		}
	}
	if o == nil {
		for _, a := range fl.opts.Allow {
			if a.Rule == rule && (a.File == "" || a.File == fl.path) {
				o = &Override{Rule: rule, Reason: a.Reason, Source: SourceOption, File: a.File}
				break
			}
		}
	}
	if o == nil {
		return nil
	}
	if fl.used == nil {
		fl.used = map[Override]bool{}
	}
	if !fl.used[*o] {
		fl.used[*o] = true
		fl.res.Overrides = append(fl.res.Overrides, *o)
	}
	return o
}
