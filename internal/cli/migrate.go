package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cutover-dev/cutover/internal/api"
	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/deploy"
	"github.com/cutover-dev/cutover/internal/migrate"
	"github.com/cutover-dev/cutover/internal/migrate/lint"
)

func (a *app) migrateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "migrate",
		GroupID: groupDeploy,
		Short:   "Inspect, lint and contract a service's database migrations against the live database",
		Long: `Migrate works on the migrations block of a service in the config file (-c): the tool whose
history table says what is applied, the directory of migration files, the database and its DSN
(from the environment variable dsn_env, or dsn_file; never printed). It talks to the database,
not to the cutover server, and only reads it, except 'migrate contract'.

A migration is a contract migration when it carries '-- cutover:phase contract' or sits under a
contract/ directory; every other one is an expand migration. Deploys run the expand migrations
before the new version starts; the contract ones wait until no old version is left.`,
		Example: `  cutover migrate status web -c cutover.yaml
  cutover migrate lint web -c cutover.yaml -o github
  cutover migrate contract web -c cutover.yaml --dry-run`,
		Args: noArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error { return cmd.Help() }),
	}
	cmd.AddCommand(a.migrateStatusCmd(), a.migrateLintCmd(), a.migrateContractCmd())
	return cmd
}

func (a *app) migrateStatusCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status SERVICE",
		Short: "Show applied and pending migrations and the health of the history table",
		Long: `Status reads the tool's history table (read-only) and the migrations directory, and lists the
pending migrations with their phase, and the problems that stop a deploy: failed or dirty rows,
a checksum that no longer matches an applied file (Flyway, plain), a pending version older than
the latest applied one (an error for Flyway and goose, which refuse it).

Exit code 0: the history is healthy (pending migrations may be listed); 1: a problem that stops a
deploy, or the database cannot be reached; 2: bad config, unknown service, or no DSN.`,
		Example: `  cutover migrate status web -c cutover.yaml
  DATABASE_URL=postgres://app@db/app cutover migrate status web -o json`,
		Args: needArgs("SERVICE"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			src, err := a.migrationSource(args[0])
			if err != nil {
				return err
			}
			st, err := migrate.Inspect(cmd.Context(), src)
			if err != nil {
				return migrateError(err)
			}
			if a.output == outputJSON {
				if err := printJSON(a.stdout, st); err != nil {
					return err
				}
			} else if err := a.printMigrateStatus(st); err != nil {
				return err
			}
			if !st.Healthy() {
				return &exitError{code: ExitFailed}
			}
			return nil
		}),
	}
	a.addOutputFlag(cmd)
	return cmd
}

// migrateLintFlags are the flags of migrate lint.
type migrateLintFlags struct {
	allow  []string
	strict bool
	format lintFormat
}

func (a *app) migrateLintCmd() *cobra.Command {
	var fl migrateLintFlags
	cmd := &cobra.Command{
		Use:   "lint SERVICE",
		Short: "Lint the pending migrations against the live database's catalog",
		Long: `Lint judges the service's pending migrations (those the history table does not list) like
'cutover lint-sql', with facts from the live catalog: row estimates (a lock on a small table is
only a note), column types, nullability and defaults (a widening is a warning, a narrowing an
error), and the server's flavour and version. The applied files are read for the schema they
build. History problems are listed too and fail the command.

Exit code 0: no errors; 1: a finding no override allows, a history problem, or an unreachable
database; 2: bad config, unknown service, unknown rule, or no DSN.`,
		Example: `  cutover migrate lint web -c cutover.yaml
  cutover migrate lint web --allow add-unique='backfilled and checked in v41' -o github`,
		Args: needArgs("SERVICE"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			if fl.format == lintFormat(outputJSON) {
				a.output = outputJSON
			}
			return a.migrateLint(cmd.Context(), args[0], fl)
		}),
	}
	f := cmd.Flags()
	f.StringArrayVar(&fl.allow, "allow", nil, "allow a rule in every pending file: RULE or RULE=REASON (repeat for more)")
	f.BoolVar(&fl.strict, "strict", false, "make statements and cutover: comments the parser cannot read errors")
	f.VarP(&fl.format, "output", "o", "output format: text, json or github (workflow annotations)")
	return cmd
}

func (a *app) migrateLint(ctx context.Context, service string, fl migrateLintFlags) error {
	allow, err := parseAllows(fl.allow)
	if err != nil {
		return err
	}
	src, err := a.migrationSource(service)
	if err != nil {
		return err
	}
	st, err := migrate.Inspect(ctx, src)
	if err != nil {
		return migrateError(err)
	}
	res, err := st.Lint(migrate.LintOptions{Allow: allow, Strict: fl.strict})
	switch {
	case errors.Is(err, lint.ErrUnknownRule):
		return &usageError{err: err}
	case err != nil:
		return err
	}
	switch fl.format {
	case lintFormat(outputJSON):
		err = printJSON(a.stdout, map[string]any{"service": service, "problems": st.Problems, "lint": res})
	case lintGitHub:
		for _, p := range st.Problems {
			fmt.Fprintf(a.stdout, "::%s file=%s,title=%s::%s; %s\n", ghLevel(p.Severity), p.File, p.Kind, p.Message, p.Fix)
		}
		err = lint.WriteGitHub(a.stdout, res)
	default:
		a.printProblems(st.Problems)
		err = lint.WriteText(a.stdout, res)
	}
	if err != nil {
		return err
	}
	if res.Failed() || !st.Healthy() {
		return &exitError{code: ExitFailed}
	}
	return nil
}

func ghLevel(s lint.Severity) string {
	if s == lint.SeverityError {
		return "error"
	}
	return "warning"
}

// parseAllows reads --allow RULE[=REASON] flags.
func parseAllows(flags []string) ([]lint.Allow, error) {
	var out []lint.Allow
	for _, s := range flags {
		rule, reason, _ := strings.Cut(s, "=")
		if _, ok := lint.RuleByID(rule); !ok {
			return nil, usagef("--allow %s: unknown rule; see the rules with cutover lint-sql --rules", rule)
		}
		if reason == "" {
			reason = "allowed with --allow"
		}
		out = append(out, lint.Allow{Rule: rule, Reason: reason})
	}
	return out, nil
}

// migrateContractFlags are the flags of migrate contract.
type migrateContractFlags struct {
	noServer bool
	dryRun   bool
}

func (a *app) migrateContractCmd() *cobra.Command {
	var fl migrateContractFlags
	cmd := &cobra.Command{
		Use:   "contract SERVICE",
		Short: "Run the pending contract migrations once no old version of the service is left",
		Long: `Contract runs every pending migration of the service, the contract ones included, with the
configured command, lock and statement timeouts. They drop or rename what the old
version still uses, so contract first asks the cutover server whether an old version may still
run: it refuses (exit 5) while the service has a standby (the window is open), a candidate, a
release being retired, or an operation in progress. Without a reachable server it refuses (exit
4) unless --no-server says that no old version runs anywhere.

History problems and lint errors in the contract set stop it too (exit 1). Down migrations never
run. A lock timeout is retried (migrations.lock_retries) with backoff.`,
		Example: `  cutover migrate contract web -c cutover.yaml
  cutover migrate contract web --dry-run`,
		Args: needArgs("SERVICE"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			return a.migrateContract(cmd.Context(), args[0], fl)
		}),
	}
	cmd.Flags().BoolVar(&fl.noServer, "no-server", false, "do not ask the cutover server (you know no old version of the service runs)")
	cmd.Flags().BoolVar(&fl.dryRun, "dry-run", false, "check and list what would run; change nothing")
	a.addOutputFlag(cmd)
	return cmd
}

func (a *app) migrateContract(ctx context.Context, service string, fl migrateContractFlags) error {
	src, err := a.migrationSource(service)
	if err != nil {
		return err
	}
	active := ""
	if !fl.noServer {
		if active, err = a.oldVersionGone(ctx, service); err != nil {
			return err
		}
	}
	st, err := migrate.Inspect(ctx, src)
	if err != nil {
		return migrateError(err)
	}
	if !st.Healthy() {
		a.printProblems(st.Problems)
		return &exitError{code: ExitFailed, err: errors.New("the history table has problems; fix them before the contract migrations run")}
	}
	res, err := st.Lint(migrate.LintOptions{})
	if err != nil {
		return err
	}
	if res.Failed() {
		if err := lint.WriteText(a.stderr, res); err != nil {
			return err
		}
		return &exitError{code: ExitFailed, err: errors.New("the pending migrations fail the lint")}
	}
	files := migrate.PhaseFiles(st.Plan, lint.PhaseContract)
	if len(st.Contract) == 0 {
		files = nil
	}
	if fl.dryRun || len(files) == 0 {
		return a.printContractPlan(files, fl.dryRun)
	}
	out := a.stdout
	if a.output == outputJSON {
		out = a.stderr
	}
	r, err := migrate.Run(ctx, src, &migrate.Plan{Pending: files}, migrate.RunOptions{Phase: lint.PhaseContract, Output: out})
	if err != nil {
		return migrateError(err)
	}
	if err := a.recordFloor(src, active, st.Contract); err != nil {
		return err
	}
	if a.output == outputJSON {
		return printJSON(a.stdout, r)
	}
	_, err = fmt.Fprintf(a.stdout, "contract: applied %s in %s\n", strings.Join(r.Migrations, ", "), r.Duration.Round(1e6))
	return err
}

// recordFloor records the rollback floor after contract migrations: the
// active version, below which a rollback is refused (unless --force).
func (a *app) recordFloor(src migrate.Source, active string, contract []migrate.Migration) error {
	if active == "" {
		fmt.Fprintf(a.stderr, "warning: no active version known (--no-server): no rollback floor recorded; a rollback to an older version is not refused\n")
		return nil
	}
	var versions []string
	for _, m := range contract {
		if m.Phase == lint.PhaseContract {
			versions = append(versions, m.Version)
		}
	}
	f := deploy.Floor{Version: active, Since: a.now(), Migrations: versions}
	if err := deploy.WriteFloor(src.StateDir, src.Service, f); err != nil {
		return &exitError{code: ExitFailed, err: fmt.Errorf("the contract migrations ran, but the rollback floor could not be recorded: %w; "+
			"do not roll %s back below %s", err, src.Service, active)}
	}
	if a.output != outputJSON {
		fmt.Fprintf(a.stdout, "rollback floor: %s (a rollback below it is refused unless --force)\n", active)
	}
	return nil
}

// printContractPlan lists what contract would run.
func (a *app) printContractPlan(files []migrate.Migration, dry bool) error {
	if a.output == outputJSON {
		out := []string{}
		for _, f := range files {
			out = append(out, f.Rel)
		}
		return printJSON(a.stdout, map[string]any{"dry_run": dry, "migrations": out})
	}
	if len(files) == 0 {
		_, err := fmt.Fprintln(a.stdout, "no pending contract migrations")
		return err
	}
	fmt.Fprintln(a.stdout, "would run:")
	for _, f := range files {
		fmt.Fprintf(a.stdout, "  %-9s %s\n", f.Phase, f.Rel)
	}
	return nil
}

// oldVersionGone asks the server whether an old version of the service may
// still run, refuses when it may, and returns the active version.
func (a *app) oldVersionGone(ctx context.Context, service string) (string, error) {
	c, err := a.client()
	if err != nil {
		return "", err
	}
	defer c.Close()
	st, err := c.Status(ctx, service)
	if err != nil {
		if errors.Is(err, api.ErrUnreachable) {
			return "", &exitError{code: ExitUnreachable, err: fmt.Errorf("%w; contract migrations need to know that no old version runs: start the server, or pass --no-server", err)}
		}
		return "", err
	}
	var why string
	switch {
	case st.Op != nil:
		why = fmt.Sprintf("operation %s is in progress", st.Op.Kind)
	case st.Standby != nil:
		why = fmt.Sprintf("version %s is on standby until %s (the old version can come back with a rollback)", st.Standby.Version, st.StandbyUntil.Format("15:04:05"))
	case st.Candidate != nil:
		why = fmt.Sprintf("candidate %s is running beside the active version", st.Candidate.Version)
	case len(st.Retiring) > 0:
		why = "an old release is still being drained"
	}
	if why != "" {
		return "", &exitError{code: ExitRefused, err: fmt.Errorf("refusing the contract migrations of %s: %s; run it again once no old version is left", service, why)}
	}
	if st.Active == nil {
		return "", nil
	}
	return st.Active.Version, nil
}

// migrationSource reads the service's migrations block and DSN.
func (a *app) migrationSource(service string) (migrate.Source, error) {
	path := a.configFile()
	if path == "" {
		return migrate.Source{}, usagef("no config file; pass -c FILE or set %s", envConfig)
	}
	c, err := config.Load(path)
	if err != nil {
		return migrate.Source{}, a.invalidConfig(path, err)
	}
	s, ok := c.Services[service]
	if !ok {
		return migrate.Source{}, usagef("no service %q in %s; services: %s", service, path, strings.Join(c.ServiceOrder, ", "))
	}
	if s.Migrations == nil {
		return migrate.Source{}, usagef("service %s has no migrations block in %s; add one (see the README's Database migrations)", service, path)
	}
	dsn, err := s.Migrations.ReadDSN(func(k string) (string, bool) { v := a.getenv(k); return v, v != "" })
	if err != nil {
		return migrate.Source{}, &usageError{err: fmt.Errorf("services.%s.%w", service, err)}
	}
	return migrate.Source{Service: service, Config: s.Migrations, DSN: dsn, WorkDir: filepath.Dir(path), StateDir: c.StateDir}, nil
}

// migrateError gives database errors their exit code: 1, with the DSN
// never in the message (package migrate redacts it).
func migrateError(err error) error {
	return &exitError{code: ExitFailed, err: err}
}

// printMigrateStatus prints a status as text.
func (a *app) printMigrateStatus(st *migrate.Status) error {
	w := a.stdout
	table := st.Table
	if !st.Exists {
		table += ", not created yet"
	}
	fmt.Fprintf(w, "%s: %s on %s %s (history %s; %d applied, %d pending of %d files)\n",
		st.Service, st.Tool, st.Server.Flavour, st.Server.Version, table, len(st.Done), len(st.Pending), st.Files)
	if len(st.Pending) > 0 {
		t := newTable()
		fmt.Fprintf(t, "PHASE\tVERSION\tFILE\n")
		for _, m := range st.Pending {
			v := m.Version
			if m.Repeatable {
				v = "repeatable"
			}
			fmt.Fprintf(t, "%s\t%s\t%s\n", m.Phase, v, m.Rel)
		}
		if err := t.flush(w); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(w, "no pending migrations")
	}
	a.printProblems(st.Problems)
	return nil
}

// printProblems prints history problems, one a line with the fix.
func (a *app) printProblems(ps []migrate.Problem) {
	for _, p := range ps {
		fmt.Fprintf(a.stdout, "%s: history %s: %s\n  fix: %s\n", p.Severity, p.Kind, p.Message, p.Fix)
	}
}
