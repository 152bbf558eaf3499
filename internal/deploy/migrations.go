package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/cutover-dev/cutover/internal/migrate"
	"github.com/cutover-dev/cutover/internal/migrate/lint"
)

// ErrMigrationsRefused reports a deploy refused by its preflight: a history
// problem or a lint error no override allows. Nothing was started or changed.
var ErrMigrationsRefused = errors.New("migrations refused")

// maxListed bounds the findings a refusal names.
const maxListed = 10

// runMigrations runs the service's migrations before any new instance
// starts (nothing when it has no migrations block):
//
//   - preflight: the pending migrations from the tool's live history table,
//     the history's health and the lint with the live catalog, read-only; a
//     problem or a lint error no override (inline, or req.Allow) allows
//     refuses the deploy with each finding's file:line and rule. Overrides
//     and warnings are reported as events.
//   - expand: the pending migrations before the first contract one, with
//     the lock and statement timeouts, a lock timeout retried with backoff.
//
// Contract migrations wait (cutover migrate contract). A fleet deploy does
// not run them here: they must run once for the fleet, not per host.
func (s *service) runMigrations(ctx context.Context, op *opRun, req DeployRequest) error {
	m := s.config().Migrations
	if m == nil {
		return nil
	}
	if op.fleet && !req.Migrate {
		op.warn("migrate", "migrations are not run by a fleet deploy yet: run them once before it (cutover migrate status %s shows what is pending)", s.name)
		return nil
	}
	dsn, err := m.ReadDSN(os.LookupEnv)
	if err != nil {
		return fmt.Errorf("%w: services.%s.%v", ErrMigrationsRefused, s.name, err)
	}
	allow, err := parseAllow(req.Allow)
	if err != nil {
		return err
	}
	src := migrate.Source{Service: s.name, Config: m, DSN: dsn}
	begin := time.Now()
	st, err := migrate.Inspect(ctx, src)
	if err != nil {
		return fmt.Errorf("migrations preflight: %w", err)
	}
	var refuse []string
	for _, p := range st.Problems {
		if p.Severity == lint.SeverityError {
			refuse = append(refuse, fmt.Sprintf("history %s: %s (fix: %s)", p.Kind, p.Message, p.Fix))
		} else {
			op.warn("migrate", "history %s: %s", p.Kind, p.Message)
		}
	}
	res, err := st.Lint(migrate.LintOptions{Allow: allow})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMigrationsRefused, err)
	}
	for _, f := range res.Findings {
		switch {
		case f.Fails():
			refuse = append(refuse, fmt.Sprintf("%s:%d: %s[%s] %s; fix: %s", f.File, f.Line, f.Severity, f.Rule, f.Message, f.Recipe))
		case f.Allowed != nil:
			op.warn("migrate", "%s:%d: %s allowed (%s): %s", f.File, f.Line, f.Rule, f.Allowed.Reason, f.Message)
			op.notes = append(op.notes, fmt.Sprintf("migrate: %s allowed at %s:%d (%s override: %s)", f.Rule, f.File, f.Line, f.Allowed.Source, f.Allowed.Reason))
		case f.Severity == lint.SeverityWarning:
			op.warn("migrate", "%s:%d: warning[%s] %s", f.File, f.Line, f.Rule, f.Message)
		}
	}
	op.timed("migrate_preflight", begin)
	if len(refuse) > 0 {
		more := ""
		if len(refuse) > maxListed {
			more = fmt.Sprintf("; and %d more", len(refuse)-maxListed)
			refuse = refuse[:maxListed]
		}
		return fmt.Errorf("%w: %s%s; nothing was started or migrated (allow a finding with --allow RULE=REASON or an inline cutover:allow comment)",
			ErrMigrationsRefused, strings.Join(refuse, "; "), more)
	}
	expand := st.Plan.Expand()
	if len(st.Contract) > 0 {
		op.info("migrate", "%d contract migration(s) wait until no old version is left: cutover migrate contract %s", len(st.Contract), s.name)
	}
	if len(expand) == 0 {
		op.info("migrate", "no expand migrations pending")
		return nil
	}
	op.emit(EventStep, "migrate", fmt.Sprintf("running %d expand migration(s) before %s starts", len(expand), req.Version), nil)
	begin = time.Now()
	w := &eventLines{op: op}
	r, err := migrate.Run(ctx, src, st.Plan, migrate.RunOptions{Phase: lint.PhaseExpand, Version: req.Version, Output: w, Logger: s.c.log})
	w.flush()
	op.timed("migrate_expand", begin)
	if err != nil {
		return fmt.Errorf("expand migrations: %w (the schema keeps what was applied; down migrations never run)", err)
	}
	op.info("migrate", "applied %s in %s (%d lock timeout(s) retried)", strings.Join(r.Migrations, ", "), r.Duration.Round(time.Millisecond), r.LockTimeouts)
	op.notes = append(op.notes, "migrate: expand applied "+strings.Join(r.Migrations, ", "))
	return s.soak(ctx, op, m.Soak.D())
}

// soak keeps the old version serving alone on the migrated schema for d,
// checking its instances' health at the health interval, and fails when
// one turns unhealthy. The schema keeps the expand migrations: they were
// made to be safe for the old version, and down migrations never run.
func (s *service) soak(ctx context.Context, op *opRun, d time.Duration) error {
	st := s.state()
	if d <= 0 || st.Active == nil || len(st.Active.Instances) == 0 {
		return nil
	}
	old := st.Active
	op.emit(EventStep, "soak", fmt.Sprintf("soaking: %s serves on the migrated schema for %s, watched", old.Version, d), nil)
	begin := time.Now()
	defer op.timed("migrate_soak", begin)
	every := s.config().Health.Interval.D()
	if every <= 0 || every > d {
		every = d
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	end := time.NewTimer(d)
	defer end.Stop()
	for {
		for _, in := range old.Instances {
			if !s.c.opts.Agent.Healthy(in.ID) {
				return fmt.Errorf("soak: %s of the old version %s turned unhealthy %s after the expand migrations; the deploy stops here and the schema keeps them (down migrations never run)",
					in.ID, old.Version, time.Since(begin).Round(time.Millisecond))
			}
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-end.C:
			op.info("soak", "%s stayed healthy on the migrated schema for %s", old.Version, d)
			return nil
		case <-tick.C:
		}
	}
}

// parseAllow reads a deploy's --allow RULE[=REASON] list.
func parseAllow(list []string) ([]lint.Allow, error) {
	var out []lint.Allow
	for _, s := range list {
		rule, reason, _ := strings.Cut(s, "=")
		if _, ok := lint.RuleByID(rule); !ok {
			return nil, fmt.Errorf("%w: --allow names unknown rule %q (see cutover lint-sql --rules)", ErrMigrationsRefused, rule)
		}
		if reason == "" {
			reason = "allowed with --allow"
		}
		out = append(out, lint.Allow{Rule: rule, Reason: reason})
	}
	return out, nil
}

// eventLines turns a migration command's output into info events, a line each.
type eventLines struct {
	op  *opRun
	mu  sync.Mutex
	buf bytes.Buffer
}

func (e *eventLines) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.buf.Write(p)
	for {
		line, err := e.buf.ReadString('\n')
		if err != nil {
			e.buf.WriteString(line)
			return len(p), nil
		}
		if l := strings.TrimRight(line, "\r\n"); l != "" {
			e.op.info("migrate", "%s", l)
		}
	}
}

func (e *eventLines) flush() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if l := strings.TrimSpace(e.buf.String()); l != "" {
		e.op.info("migrate", "%s", l)
	}
	e.buf.Reset()
}
