package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cutover-dev/cutover/internal/migrate/lint"
	"github.com/cutover-dev/cutover/internal/migrate/sqlparse"
)

// lintFormat is the -o flag of lint-sql: text, json or github.
type lintFormat string

const lintGitHub lintFormat = "github"

// String returns the format name.
func (f *lintFormat) String() string {
	if *f == "" {
		return string(outputText)
	}
	return string(*f)
}

// Set parses a format name.
func (f *lintFormat) Set(v string) error {
	switch v {
	case string(outputText), string(outputJSON), string(lintGitHub):
		*f = lintFormat(v)
		return nil
	}
	return fmt.Errorf("unknown output format %q; use text, json or github", v)
}

// Type names the flag's value in help.
func (f *lintFormat) Type() string { return "text|json|github" }

// lintSQLFlags are the flags of lint-sql.
type lintSQLFlags struct {
	dialect       string
	strict        bool
	allow         []string
	applied       []string
	inTransaction bool
	rules         bool
	format        lintFormat
}

func (a *app) lintSQLCmd() *cobra.Command {
	var fl lintSQLFlags
	cmd := &cobra.Command{
		Use:     "lint-sql --dialect mysql|mariadb|postgres [flags] FILE_OR_DIR...",
		GroupID: groupDeploy,
		Short:   "Check database migrations for changes that break the version still serving",
		Long: `Lint-sql reads migration files and reports the schema changes that break the version still
serving while a deploy runs (beside the new one during the standby window, a canary or a fleet's
flip, and again after a rollback), and the ones that lock or rewrite a table under it. It needs no
database and no server: run it in CI on the migrations a change adds.

Each finding gives file:line, severity and rule, why it breaks, and the safe recipe. For example,
a column rename breaks the serving version at once; the recipe is: add the new column, write to
both, backfill, switch reads in a deploy, drop the old column in a later contract migration.
See every rule with --rules.

Directories are searched for *.sql files; files run in migration order (V2__ before V10__).
Down migrations (*.down.sql, Flyway U*__) and goose/dbmate down sections are skipped.
  - Objects created earlier in the same files are exempt: nothing serving uses them yet.
  - A contract migration, marked '-- cutover:phase contract' or under a contract/ directory,
    runs only once no old version is left: it may drop and rename. Lock rules still apply.
  - '-- cutover:allow RULE reason="why it is safe"' allows RULE on the next statement (or the
    statement on the same line); --allow RULE[=REASON] allows it everywhere. Allowed findings
    are listed with their reason and fail nothing.
  - --applied DIR gives the migrations already applied: they are read, not linted, so that
    type changes are judged against the real column (a widening is only a warning).

Exit code 0: no errors (warnings may be listed); 1: at least one error that nothing allows;
2: bad flags, an unknown rule, or a path that cannot be read.`,
		Example: `  cutover lint-sql --dialect postgres db/migrations
  git diff --name-only --diff-filter=A origin/main -- db/migrations | xargs -r cutover lint-sql --dialect mysql -o github
  cutover lint-sql --dialect mariadb --applied db/applied --allow mysql-online-ddl='small tables' db/pending
  cutover lint-sql --rules`,
		RunE: runE(func(_ *cobra.Command, args []string) error {
			if fl.format == lintFormat(outputJSON) {
				a.output = outputJSON
			}
			return a.lintSQL(fl, args)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&fl.dialect, "dialect", "", "SQL dialect of the files: mysql, mariadb or postgres (required)")
	f.BoolVar(&fl.strict, "strict", false, "make statements and cutover: comments the parser cannot read errors, not warnings")
	f.StringArrayVar(&fl.allow, "allow", nil, "allow a rule in every file: RULE or RULE=REASON (repeat for more)")
	f.StringArrayVar(&fl.applied, "applied", nil, "migrations already applied, read for the schema they build, not linted (file or dir; repeatable)")
	f.BoolVar(&fl.inTransaction, "in-transaction", false, "the migration tool runs each file in a transaction (goose, dbmate, Flyway on PostgreSQL)")
	f.BoolVar(&fl.rules, "rules", false, "list the rules with their severity and exit")
	f.VarP(&fl.format, "output", "o", "output format: text, json or github (workflow annotations)")
	return cmd
}

// lintSQL runs lint-sql.
func (a *app) lintSQL(fl lintSQLFlags, args []string) error {
	if fl.rules {
		return a.printRules(fl.format)
	}
	if fl.dialect == "" {
		return usagef("lint-sql needs --dialect mysql, mariadb or postgres")
	}
	d, err := sqlparse.ParseDialect(fl.dialect)
	if err != nil {
		return &usageError{err: err}
	}
	if len(args) == 0 {
		return usagef("lint-sql needs at least one migration file or directory")
	}
	opts := lint.Options{Dialect: d, Strict: fl.strict, InTransaction: fl.inTransaction}
	for _, s := range fl.allow {
		rule, reason, _ := strings.Cut(s, "=")
		if reason == "" {
			reason = "allowed with --allow"
		}
		opts.Allow = append(opts.Allow, lint.Allow{Rule: rule, Reason: reason})
	}
	files, err := lint.Load(args)
	if err != nil {
		return &usageError{err: err}
	}
	if len(fl.applied) > 0 {
		if opts.Applied, err = lint.Load(fl.applied); err != nil {
			return &usageError{err: err}
		}
	}
	res, err := lint.Lint(files, opts)
	switch {
	case errors.Is(err, lint.ErrUnknownRule):
		return &usageError{err: err}
	case err != nil:
		return err
	}
	switch fl.format {
	case lintFormat(outputJSON):
		err = lint.WriteJSON(a.stdout, res)
	case lintGitHub:
		err = lint.WriteGitHub(a.stdout, res)
	default:
		err = lint.WriteText(a.stdout, res)
	}
	if err != nil {
		return err
	}
	if res.Failed() {
		return &exitError{code: ExitFailed}
	}
	return nil
}

// printRules lists the rules.
func (a *app) printRules(format lintFormat) error {
	rules := lint.Rules()
	if format == lintFormat(outputJSON) {
		return printJSON(a.stdout, rules)
	}
	t := newTable()
	fmt.Fprintf(t, "RULE\tSEVERITY\tDIALECTS\tFINDS\n")
	for _, r := range rules {
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\n", r.ID, r.Severity, r.Scope, r.What)
	}
	if err := t.flush(a.stdout); err != nil {
		return err
	}
	_, err := fmt.Fprintln(a.stdout, "\nEach finding prints why it breaks and the safe recipe; -o json lists them here too.")
	return err
}
