package store

import (
	"errors"
	"fmt"
	"slices"
)

// ErrIllegalTransition reports a phase change the transition table does
// not allow.
var ErrIllegalTransition = errors.New("illegal phase transition")

// PhaseNone is the phase of no operation: the "from" of a newly recorded
// operation, and the "to" of one that ended.
const PhaseNone Phase = ""

// transitions is the one table of the phases an operation may move to
// from each phase. Staying in a phase and ending (PhaseNone) are always
// allowed and not listed.
var transitions = map[Phase][]Phase{
	// An operation is recorded in one of these phases: a deploy starting
	// (switch, canary) or rolling, a rollback switching to its standby,
	// the restore of an interrupted rolling update undoing it.
	PhaseNone:     {PhaseStarting, PhaseRollingOut, PhaseSwitching, PhaseUndoing},
	PhaseStarting: {PhaseGating, PhaseUndoing},
	PhaseGating:   {PhaseStandby, PhaseCanary, PhaseUndoing},
	// A rollback whose standby is unusable deploys its target instead.
	PhaseSwitching:  {PhaseRetiring, PhaseStarting, PhaseRollingOut, PhaseUndoing},
	PhaseCanary:     {PhaseStandby, PhaseUndoing},
	PhaseStandby:    {PhaseRetiring},
	PhaseRollingOut: {PhaseStandby, PhaseUndoing},
	PhaseRetiring:   {},
	PhaseUndoing:    {},
}

// Phases returns every phase, in the order an operation meets them.
func Phases() []Phase {
	return []Phase{PhaseStarting, PhaseGating, PhaseSwitching, PhaseCanary, PhaseStandby, PhaseRollingOut, PhaseRetiring, PhaseUndoing}
}

// Next returns the phases an operation in p may move to, besides staying
// in p and ending. It returns nil for a phase the table does not know.
func (p Phase) Next() []Phase {
	return slices.Clone(transitions[p])
}

// Known reports whether p is a phase of this version (PhaseNone included).
func (p Phase) Known() bool {
	_, ok := transitions[p]
	return ok
}

// CheckTransition returns nil when an operation may move from phase from
// to phase to, else an error wrapping ErrIllegalTransition that names both.
// Staying in a phase and ending (to PhaseNone) are always allowed; a phase
// this version does not know may only stay or end.
func CheckTransition(from, to Phase) error {
	if from == to || to == PhaseNone {
		return nil
	}
	if !to.Known() {
		return fmt.Errorf("%w: unknown phase %q", ErrIllegalTransition, to)
	}
	if slices.Contains(transitions[from], to) {
		return nil
	}
	name := func(p Phase) string {
		if p == PhaseNone {
			return "no operation"
		}
		return string(p)
	}
	return fmt.Errorf("%w: from %s to %s (allowed: %v)", ErrIllegalTransition, name(from), name(to), transitions[from])
}
