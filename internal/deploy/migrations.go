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
	"github.com/cutover-dev/cutover/internal/store"
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
	if ran, err := s.deferredContract(ctx, op, src, st); err != nil {
		return err
	} else if ran {
		if st, err = migrate.Inspect(ctx, src); err != nil {
			return fmt.Errorf("migrations after the contract phase: %w", err)
		}
	}
	expand := st.Plan.Expand()
	if waiting := contractVersions(st.Contract); len(waiting) > 0 {
		op.info("migrate", "contract migration(s) %s wait until no old version is left: the next deploy after the standby window, or cutover migrate contract %s",
			strings.Join(waiting, ", "), s.name)
		op.notes = append(op.notes, notePending+strings.Join(waiting, ","))
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

// notePending starts the history note of the contract migrations a deploy
// left pending: the next deploy runs them once no older version is left.
const notePending = "migrate: contract pending "

// contractVersions returns the versions of the contract files among ms.
func contractVersions(ms []migrate.Migration) []string {
	var out []string
	for _, m := range ms {
		if m.Phase == lint.PhaseContract {
			out = append(out, m.Version)
		}
	}
	return out
}

// deferredContract runs, at the start of a deploy, the contract migrations
// the deploy of the active version left pending, when no older version is
// left: no standby (its window closed), no candidate, nothing retiring.
// It runs the pending files up to the last of them (expand files before
// them too), records the rollback floor at the active version, and reports
// whether it ran anything. Contract files the active version's deploy did
// not leave pending are not run: they may drop what the active version uses.
func (s *service) deferredContract(ctx context.Context, op *opRun, src migrate.Source, st *migrate.Status) (bool, error) {
	state := s.state()
	if len(st.Contract) == 0 || state.Active == nil {
		return false, nil
	}
	hist, err := s.c.opts.Store.History(ctx, s.name, 50)
	if err != nil {
		return false, fmt.Errorf("read the history for pending contract migrations: %w", err)
	}
	deferred := map[string]bool{}
	for _, h := range hist {
		if h.Kind != store.OpDeploy || h.Outcome != store.OutcomeDeployed {
			continue
		}
		if h.Version == state.Active.Version {
			for _, n := range h.Notes {
				if list, ok := strings.CutPrefix(n, notePending); ok {
					for _, v := range strings.Split(list, ",") {
						deferred[v] = true
					}
				}
			}
		}
		break // only the deploy of the active version counts
	}
	if len(deferred) == 0 {
		return false, nil
	}
	if state.Standby != nil || state.Candidate != nil || len(state.Retiring) > 0 {
		op.info("migrate", "the contract migrations left by %s wait: an older version is still on standby or retiring", state.Active.Version)
		return false, nil
	}
	last := -1
	for i, m := range st.Pending {
		if m.Phase == lint.PhaseContract && !deferred[m.Version] {
			break
		}
		if deferred[m.Version] {
			last = i
		}
	}
	if last < 0 {
		return false, nil
	}
	files := st.Pending[:last+1]
	if len(files) < len(st.Pending) && src.Config.Command != "" && !src.Config.UsesTarget() {
		op.warn("migrate", "the contract migrations left by %s wait: migrations.command has no {{.Target}} to stop after them; run cutover migrate contract %s", state.Active.Version, s.name)
		return false, nil
	}
	op.emit(EventStep, "migrate", fmt.Sprintf("running the contract migrations %s left pending: no older version is left", state.Active.Version), nil)
	begin := time.Now()
	w := &eventLines{op: op}
	r, err := migrate.Run(ctx, src, &migrate.Plan{Pending: files}, migrate.RunOptions{Phase: lint.PhaseContract, Version: state.Active.Version, Output: w, Logger: s.c.log})
	w.flush()
	op.timed("migrate_contract", begin)
	if err != nil {
		return false, fmt.Errorf("contract migrations: %w (the schema keeps what was applied; down migrations never run)", err)
	}
	if err := WriteFloor(s.c.opts.Config.StateDir, s.name, Floor{Version: state.Active.Version, Since: time.Now(), Migrations: contractVersions(files)}); err != nil {
		return false, fmt.Errorf("contract migrations ran, but the rollback floor could not be recorded: %w", err)
	}
	op.info("migrate", "applied %s; rollback floor: %s", strings.Join(r.Migrations, ", "), state.Active.Version)
	op.notes = append(op.notes, "migrate: contract applied "+strings.Join(r.Migrations, ", ")+"; rollback floor "+state.Active.Version)
	return true, nil
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
