package migrate

import (
	"fmt"
	"strings"

	"github.com/cutover-dev/cutover/internal/migrate/lint"
)

// Kinds of history problems.
const (
	ProblemFailed     = "failed"
	ProblemDirty      = "dirty"
	ProblemChecksum   = "checksum-mismatch"
	ProblemOutOfOrder = "out-of-order"
	ProblemMissing    = "missing-file"
	ProblemPhaseOrder = "expand-after-contract"
)

// Problem is one thing wrong with the history, or with the pending files
// against it. An error stops a deploy before anything starts.
type Problem struct {
	Kind     string        `json:"kind"`
	Severity lint.Severity `json:"severity"`
	Version  string        `json:"version,omitempty"`
	File     string        `json:"file,omitempty"`
	Message  string        `json:"message"`
	Fix      string        `json:"fix"`
}

// Plan is what the history says of the migrations directory: which files
// are applied, which are pending, and what is wrong.
type Plan struct {
	Applied  []Applied   `json:"applied"`
	Done     []Migration `json:"-"`
	Pending  []Migration `json:"pending"`
	Problems []Problem   `json:"problems"`
}

// Healthy reports whether no problem is an error.
func (p *Plan) Healthy() bool {
	for _, pr := range p.Problems {
		if pr.Severity == lint.SeverityError {
			return false
		}
	}
	return true
}

// Expand returns the pending migrations a deploy runs before the new
// version starts: those before the first pending contract migration.
func (p *Plan) Expand() []Migration {
	for i, m := range p.Pending {
		if m.Phase == lint.PhaseContract {
			return p.Pending[:i]
		}
	}
	return p.Pending
}

// Contract returns the pending migrations that wait until no old version
// is left: the first contract migration and every one after it.
func (p *Plan) Contract() []Migration { return p.Pending[len(p.Expand()):] }

// Compare matches the files of the directory against the tool's history.
func Compare(tool string, files []Migration, applied []Applied) *Plan {
	p := &Plan{Applied: applied, Pending: []Migration{}, Problems: []Problem{}}
	add := func(kind string, sev lint.Severity, version, file, fix, format string, args ...any) {
		p.Problems = append(p.Problems, Problem{Kind: kind, Severity: sev, Version: version, File: file, Message: fmt.Sprintf(format, args...), Fix: fix})
	}
	byVersion := map[string]Applied{}
	var highest, baseline string
	for _, a := range applied {
		if a.Version == "" {
			continue
		}
		byVersion[canonical(a.Version)] = a
		if a.Baseline && CompareVersions(a.Version, baseline) > 0 {
			baseline = a.Version
		}
		if !a.Failed && CompareVersions(a.Version, highest) > 0 {
			highest = a.Version
		}
		switch {
		case a.Failed:
			add(ProblemFailed, lint.SeverityError, a.Version, "", fixFailed(tool),
				"migration %s failed and is recorded as failed in the history table", a.Version)
		case a.Dirty:
			add(ProblemDirty, lint.SeverityError, a.Version, "", fmt.Sprintf("check what migration %s did, fix the schema by hand, then run: migrate force VERSION (the last version that is complete)", a.Version),
				"the database is dirty at version %s: that migration started and did not finish", a.Version)
		}
	}
	fileVersions := map[string]bool{}
	for _, f := range files {
		if f.Repeatable {
			if repeatablePending(f, applied) {
				p.Pending = append(p.Pending, f)
			} else {
				p.Done = append(p.Done, f)
			}
			continue
		}
		fileVersions[canonical(f.Version)] = true
		a, ok := byVersion[canonical(f.Version)]
		done := ok && !a.Failed
		if tool == "golang-migrate" && highest != "" {
			// golang-migrate records only the latest version.
			done = CompareVersions(f.Version, highest) <= 0
			ok = done
		}
		if baseline != "" && CompareVersions(f.Version, baseline) <= 0 {
			done = true
		}
		if done {
			p.Done = append(p.Done, f)
			if ok && a.Checksum != "" && f.Checksum != "" && a.Checksum != f.Checksum {
				add(ProblemChecksum, lint.SeverityError, f.Version, f.Path, fixChecksum(tool),
					"%s changed after it was applied (checksum %s in the history, %s now)", f.Rel, a.Checksum, f.Checksum)
			}
			continue
		}
		if ok && a.Failed {
			continue // reported above; not pending until it is repaired
		}
		if highest != "" && CompareVersions(f.Version, highest) < 0 {
			sev := lint.SeverityWarning
			if tool == "flyway" || tool == "goose" {
				sev = lint.SeverityError
			}
			add(ProblemOutOfOrder, sev, f.Version, f.Path, fixOutOfOrder(tool),
				"%s (version %s) is pending but older than the latest applied version %s", f.Rel, f.Version, highest)
		}
		p.Pending = append(p.Pending, f)
	}
	for _, a := range applied {
		if a.Version == "" || a.Baseline || a.Failed || fileVersions[canonical(a.Version)] {
			continue
		}
		if tool == "golang-migrate" {
			continue
		}
		add(ProblemMissing, lint.SeverityWarning, a.Version, "", "restore the file, or leave it: it is applied and will not run again",
			"version %s is applied but no file in the directory has it", a.Version)
	}
	sawContract := false
	for _, f := range p.Pending {
		if f.Phase == lint.PhaseContract {
			sawContract = true
		} else if sawContract {
			add(ProblemPhaseOrder, lint.SeverityWarning, f.Version, f.Path, "give the expand migration a version below the first pending contract migration",
				"%s is an expand migration after a pending contract migration: it waits for the contract phase", f.Rel)
		}
	}
	return p
}

// canonical drops leading zeros of each version part, for lookups.
func canonical(v string) string {
	parts := strings.Split(v, ".")
	for i, s := range parts {
		s = strings.TrimLeft(s, "0")
		if s == "" {
			s = "0"
		}
		parts[i] = s
	}
	return strings.Join(parts, ".")
}

// repeatablePending reports whether a Flyway repeatable migration runs
// again: it never ran, or its checksum changed since the latest run.
// Flyway records its description with spaces for underscores.
func repeatablePending(f Migration, applied []Applied) bool {
	desc := strings.ReplaceAll(f.Name, "_", " ")
	sum := ""
	for _, a := range applied {
		if a.Version == "" && a.Name == desc && !a.Failed {
			sum = a.Checksum
		}
	}
	return sum != f.Checksum
}

func fixFailed(tool string) string {
	if tool == "flyway" {
		return "fix the schema by hand to what the migration left, then run flyway repair"
	}
	return "fix the schema by hand, then delete the row from " + PlainTable + " (the migration runs again)"
}

func fixChecksum(tool string) string {
	if tool == "flyway" {
		return "restore the applied file (changes go in a new migration), or run flyway repair to accept it"
	}
	return "restore the applied file; put changes in a new migration"
}

func fixOutOfOrder(tool string) string {
	switch tool {
	case "flyway":
		return "give the file a version above the latest applied one, or set outOfOrder=true in Flyway"
	case "goose":
		return "give the file a version above the latest applied one, or run goose with -allow-missing"
	}
	return "give the file a version above the latest applied one (it runs anyway, out of order)"
}
