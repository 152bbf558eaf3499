package migrate

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/migrate/lint"
	"github.com/cutover-dev/cutover/internal/migrate/sqlparse"
)

// Errors of Run.
var (
	// ErrLockTimeout reports a migration that kept failing on the lock
	// timeout after every retry.
	ErrLockTimeout = errors.New("migration failed on the lock timeout")
	// ErrMigrationFailed reports a migration command or statement that failed.
	ErrMigrationFailed = errors.New("migration failed")
	// ErrNoTarget reports a command that cannot stop before the next
	// phase's migrations: it does not use {{.Target}}.
	ErrNoTarget = errors.New("migration command cannot stop at a target")
)

// DefaultBackoff is RunOptions.Backoff when it is zero: the wait before the
// first retry after a lock timeout, doubled for each one after.
const DefaultBackoff = time.Second

// RunOptions configure one Run.
type RunOptions struct {
	// Phase is lint.PhaseExpand or lint.PhaseContract.
	Phase string
	// Version is the app version being deployed (the command's .Version).
	Version string
	// Output receives the command's output (nil: discarded); the DSN and
	// its password are replaced by <dsn> and <password> in it.
	Output io.Writer
	// Backoff is the wait before the first retry (default DefaultBackoff).
	Backoff time.Duration
	// Logger (nil: discard).
	Logger *slog.Logger
}

// RunResult is what one Run did.
type RunResult struct {
	Phase string `json:"phase"`
	// Migrations are the versions (names for repeatable ones) the phase ran.
	Migrations []string `json:"migrations"`
	// Attempts counts the runs of the command (tool plain: of the file
	// that took most); more than one after lock timeouts.
	Attempts int `json:"attempts"`
	// LockTimeouts counts the attempts that ended on the lock timeout.
	LockTimeouts int           `json:"lock_timeouts"`
	Duration     time.Duration `json:"duration_ns"`
}

// PhaseFiles returns the migrations of a phase of the plan: the expand
// ones, or for contract every pending one.
func PhaseFiles(p *Plan, phase string) []Migration {
	if phase == lint.PhaseContract {
		return p.Pending
	}
	return p.Expand()
}

// Run applies the phase's pending migrations of the plan: the user's
// command for the tool, or cutover's own runner for tool plain. A lock
// timeout is retried up to Config.Retries() times with doubling backoff,
// unless the history shows the attempt left a failed or dirty row (the
// tool must then be repaired by hand). Down migrations never run.
func Run(ctx context.Context, src Source, plan *Plan, opts RunOptions) (*RunResult, error) {
	start := time.Now()
	files := PhaseFiles(plan, opts.Phase)
	res := &RunResult{Phase: opts.Phase, Migrations: []string{}}
	if len(files) == 0 {
		return res, nil
	}
	if opts.Backoff <= 0 {
		opts.Backoff = DefaultBackoff
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Output == nil {
		opts.Output = io.Discard
	}
	opts.Output = &redactWriter{w: opts.Output, dsn: src.DSN}
	for _, f := range files {
		res.Migrations = append(res.Migrations, label(f))
	}
	var err error
	if src.Config.Tool == config.ToolPlain && src.Config.Command == "" {
		err = runPlain(ctx, src, files, opts, res)
	} else {
		if len(files) < len(plan.Pending) && !src.Config.UsesTarget() {
			return nil, fmt.Errorf("%w: %d pending migrations wait for the contract phase, and migrations.command has no {{.Target}} to stop before them; "+
				"add it (goose up-to {{.Target}}, migrate goto {{.Target}}, flyway -target={{.Target}})", ErrNoTarget, len(plan.Pending)-len(files))
		}
		err = runCommand(ctx, src, files, opts, res)
	}
	res.Duration = time.Since(start)
	return res, err
}

// label names a migration in results.
func label(m Migration) string {
	if m.Version == "" {
		return "R__" + m.Name
	}
	return m.Version
}

// runCommand runs the user's command until it succeeds, fails for another
// reason than a lock timeout, or the retries are spent.
func runCommand(ctx context.Context, src Source, files []Migration, opts RunOptions, res *RunResult) error {
	last := files[len(files)-1]
	target := last.Version
	for i := len(files) - 1; target == "" && i >= 0; i-- {
		target = files[i].Version
	}
	cmdline, err := config.RenderMigrationCommand(src.Config.Command, config.MigrationTemplateData{
		Service: src.Service, Version: opts.Version, Dir: src.Config.Dir, Phase: opts.Phase, Target: target,
	})
	if err != nil {
		return fmt.Errorf("migrations.command: %w", err)
	}
	d := src.Dialect()
	dsn, err := AddTimeouts(d, src.DSN, src.Config.LockTimeout.D(), src.Config.StatementTimeout.D())
	if err != nil {
		return err
	}
	env := commandEnv(src, d, dsn, opts.Phase, target)
	backoff := opts.Backoff
	for attempt := 0; ; attempt++ {
		res.Attempts++
		out, err := runShell(ctx, cmdline, src.WorkDir, env, opts.Output)
		if err == nil {
			return nil
		}
		if !lockTimeoutText.Match(out) {
			return fmt.Errorf("%w: %s: %v", ErrMigrationFailed, opts.Phase, err)
		}
		res.LockTimeouts++
		if attempt >= src.Config.Retries() {
			return fmt.Errorf("%w: %d attempts, each waited %s for a lock; retry when the table is less busy, or raise migrations.lock_timeout",
				ErrLockTimeout, res.Attempts, src.Config.LockTimeout.D())
		}
		if bad := historyBlocks(ctx, src); bad != "" {
			return fmt.Errorf("%w on the lock timeout, and the tool recorded it: %s; repair it before the next deploy", ErrMigrationFailed, bad)
		}
		opts.Logger.Warn("migration lock timeout; retrying", "phase", opts.Phase, "attempt", res.Attempts, "backoff", backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff *= 2
	}
}

// lockTimeoutText matches what the tools print when a statement ends on
// the lock timeout: PostgreSQL's SQLSTATE 55P03 and message, MySQL's and
// MariaDB's error 1205.
var lockTimeoutText = regexp.MustCompile(`(?i)(canceling statement due to lock timeout|55P03|lock wait timeout exceeded|\b1205\b)`)

// historyBlocks re-reads the history after a failed attempt and returns
// the problem that forbids another one (a failed or dirty row), or "".
func historyBlocks(ctx context.Context, src Source) string {
	d := src.Dialect()
	db, err := Open(ctx, d, src.DSN)
	if err != nil {
		return ""
	}
	defer db.Close()
	rows, _, err := ReadHistory(ctx, db, d, src.Config.Tool, src.Table())
	if err != nil {
		return ""
	}
	for _, r := range rows {
		if r.Failed || r.Dirty {
			return fmt.Sprintf("version %s is %s in %s", r.Version, map[bool]string{true: "dirty", false: "failed"}[r.Dirty], src.Table())
		}
	}
	return ""
}

// commandEnv is the command's environment: cutover's, with the DSN (timeouts
// added) in the DSN variable, and the timeouts and phase spelled out for
// commands that set them themselves.
func commandEnv(src Source, d sqlparse.Dialect, dsn, phase, target string) []string {
	name := src.Config.DSNEnv
	if name == "" {
		name = "CUTOVER_DATABASE_DSN"
	}
	env := []string{}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k != name && k != "CUTOVER_DATABASE_DSN" && k != "PGOPTIONS" {
			env = append(env, kv)
		}
	}
	env = append(env, name+"="+dsn, "CUTOVER_DATABASE_DSN="+dsn,
		"CUTOVER_SERVICE="+src.Service, "CUTOVER_MIGRATION_PHASE="+phase, "CUTOVER_MIGRATION_TARGET="+target,
		fmt.Sprintf("CUTOVER_LOCK_TIMEOUT_MS=%d", src.Config.LockTimeout.D().Milliseconds()),
		fmt.Sprintf("CUTOVER_STATEMENT_TIMEOUT_MS=%d", src.Config.StatementTimeout.D().Milliseconds()))
	if d == sqlparse.Postgres {
		// For libpq tools (psql) and pgx when the DSN has no options of its own.
		opts := fmt.Sprintf("-c lock_timeout=%d", src.Config.LockTimeout.D().Milliseconds())
		if st := src.Config.StatementTimeout.D(); st > 0 {
			opts += fmt.Sprintf(" -c statement_timeout=%d", st.Milliseconds())
		}
		env = append(env, "PGOPTIONS="+opts)
	}
	return env
}

// runShell runs sh -c cmdline in its own process group, copying its output
// to out, and returns the output too. Cancelling ctx ends the whole group.
func runShell(ctx context.Context, cmdline, dir string, env []string, out io.Writer) ([]byte, error) {
	var buf bytes.Buffer
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", cmdline)
	cmd.Dir, cmd.Env = dir, env
	w := io.MultiWriter(&buf, out)
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	return buf.Bytes(), err
}

// redactWriter replaces the DSN and its password in what passes through.
// Lines are held until their newline so that a secret is never split.
type redactWriter struct {
	mu      sync.Mutex
	w       io.Writer
	dsn     string
	pending []byte
}

func (r *redactWriter) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pending = append(r.pending, p...)
	i := bytes.LastIndexByte(r.pending, '\n')
	if i < 0 {
		if len(r.pending) < 64*1024 {
			return len(p), nil
		}
		i = len(r.pending) - 1
	}
	line := redact(string(r.pending[:i+1]), r.dsn)
	r.pending = append(r.pending[:0], r.pending[i+1:]...)
	if _, err := io.WriteString(r.w, line); err != nil {
		return 0, err
	}
	return len(p), nil
}

// runPlain applies the files with cutover's own runner and records each in
// cutover_schema_migrations: on PostgreSQL each file in one transaction
// (unless it turns the transaction off) with its history row; on MySQL
// and MariaDB statement by statement, a failure after the first recorded
// as a failed row.
func runPlain(ctx context.Context, src Source, files []Migration, opts RunOptions, res *RunResult) error {
	d := src.Dialect()
	db, err := OpenWrite(ctx, d, src.DSN, src.Config.LockTimeout.D(), src.Config.StatementTimeout.D())
	if err != nil {
		return err
	}
	defer db.Close()
	if err := ensurePlainTable(ctx, db, d, src.Table()); err != nil {
		return fmt.Errorf("create %s: %v", src.Table(), redact(err.Error(), src.DSN))
	}
	for _, f := range files {
		backoff := opts.Backoff
		for attempt := 0; ; attempt++ {
			if attempt+1 > res.Attempts {
				res.Attempts = attempt + 1
			}
			err := applyPlain(ctx, db, d, src.Table(), f)
			if err == nil {
				fmt.Fprintf(opts.Output, "applied %s\n", f.Rel)
				break
			}
			var lt lockTimeout
			if !errors.As(err, &lt) {
				return fmt.Errorf("%w: %s: %s", ErrMigrationFailed, f.Rel, redact(err.Error(), src.DSN))
			}
			res.LockTimeouts++
			if attempt >= src.Config.Retries() {
				return fmt.Errorf("%w: %s: %d attempts, each waited %s for a lock", ErrLockTimeout, f.Rel, attempt+1, src.Config.LockTimeout.D())
			}
			opts.Logger.Warn("migration lock timeout; retrying", "file", f.Rel, "attempt", attempt+1, "backoff", backoff)
			fmt.Fprintf(opts.Output, "%s: lock timeout; retrying in %s\n", f.Rel, backoff)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(backoff):
			}
			backoff *= 2
		}
	}
	return nil
}

// lockTimeout marks an error that a retry may cure: the statement waited
// lock_timeout for a lock and changed nothing.
type lockTimeout struct{ err error }

func (l lockTimeout) Error() string { return l.err.Error() }
func (l lockTimeout) Unwrap() error { return l.err }

// isLockTimeout reports whether a driver error is the lock timeout.
func isLockTimeout(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "55P03"
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1205
	}
	return false
}

func ensurePlainTable(ctx context.Context, db *sql.DB, d sqlparse.Dialect, table string) error {
	q := quoteTable(d, table)
	ts := "timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)"
	if d == sqlparse.Postgres {
		ts = "timestamptz NOT NULL DEFAULT clock_timestamp()"
	}
	_, err := db.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+q+` (
  version varchar(255) NOT NULL PRIMARY KEY,
  name varchar(255) NOT NULL,
  checksum varchar(64) NOT NULL,
  success boolean NOT NULL,
  applied_at `+ts+`)`)
	return err
}

// applyPlain applies one file and records it.
func applyPlain(ctx context.Context, db *sql.DB, d sqlparse.Dialect, table string, f Migration) error {
	q := quoteTable(d, table)
	if d == sqlparse.Postgres {
		record := func(ex interface {
			ExecContext(context.Context, string, ...any) (sql.Result, error)
		}) error {
			_, err := ex.ExecContext(ctx, "INSERT INTO "+q+" (version, name, checksum, success) VALUES ($1, $2, $3, true)", f.Version, f.Name, f.Checksum)
			return err
		}
		if lint.NoTransaction(f.Src) {
			done := 0
			if err := execStatements(ctx, db, d, f.Src, &done); err != nil {
				if done > 0 {
					return fmt.Errorf("after %d of its statements (outside a transaction: fix the schema by hand): %v", done, err)
				}
				return err
			}
			return record(db)
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, f.Src); err != nil {
			if isLockTimeout(err) {
				return lockTimeout{err}
			}
			return err
		}
		if err := record(tx); err != nil {
			return err
		}
		return tx.Commit()
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	done := 0
	err = execStatements(ctx, conn, d, f.Src, &done)
	if err != nil && done == 0 && isLockTimeout(err) {
		return lockTimeout{err}
	}
	if err != nil && done == 0 {
		return err // nothing changed: not recorded, the file runs again next time
	}
	success := err == nil
	if _, rerr := conn.ExecContext(ctx, "REPLACE INTO "+q+" (version, name, checksum, success) VALUES (?, ?, ?, ?)", f.Version, f.Name, f.Checksum, success); rerr != nil && err == nil {
		return rerr
	}
	if err != nil {
		return fmt.Errorf("after %d of its statements (recorded as failed in %s): %v", done, table, err)
	}
	return nil
}

// execStatements runs the statements of src one by one; done counts those
// that succeeded.
func execStatements(ctx context.Context, ex interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, d sqlparse.Dialect, src string, done *int) error {
	sc, err := sqlparse.Parse(d, src)
	if err != nil {
		return err
	}
	for _, st := range sc.Statements {
		if _, err := ex.ExecContext(ctx, st.Text); err != nil {
			if isLockTimeout(err) {
				return lockTimeout{fmt.Errorf("line %d: %w", st.Line, err)}
			}
			return fmt.Errorf("line %d: %w", st.Line, err)
		}
		if done != nil {
			*done++
		}
	}
	return nil
}
