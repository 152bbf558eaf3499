package store

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestTransitionTableWalk walks every pair of phases (no operation
// included): a pair the table lists is allowed, staying and ending are
// always allowed, and every other pair is rejected with
// ErrIllegalTransition naming both phases.
func TestTransitionTableWalk(t *testing.T) {
	all := append([]Phase{PhaseNone}, Phases()...)
	allowed := 0
	for _, from := range all {
		if !from.Known() {
			t.Fatalf("phase %q is not in the table", from)
		}
		for _, to := range all {
			err := CheckTransition(from, to)
			want := from == to || to == PhaseNone || slices.Contains(from.Next(), to)
			switch {
			case want && err != nil:
				t.Errorf("%q → %q rejected: %v", from, to, err)
			case !want && !errors.Is(err, ErrIllegalTransition):
				t.Errorf("%q → %q = %v, want ErrIllegalTransition", from, to, err)
			case !want && (!strings.Contains(err.Error(), string(to)) || (from != PhaseNone && !strings.Contains(err.Error(), string(from)))):
				t.Errorf("%q → %q: error %q does not name both phases", from, to, err)
			}
			if want && from != to && to != PhaseNone {
				allowed++
			}
		}
	}
	if allowed != 18 {
		t.Errorf("%d transitions allowed, want the 18 the table lists", allowed)
	}
}

// TestTransitionPaths: the paths the controller takes are legal, a few it
// must never take are not.
func TestTransitionPaths(t *testing.T) {
	legal := [][]Phase{
		{PhaseNone, PhaseStarting, PhaseGating, PhaseStandby, PhaseNone},                // switch
		{PhaseNone, PhaseStarting, PhaseGating, PhaseCanary, PhaseStandby, PhaseNone},   // canary promoted
		{PhaseNone, PhaseStarting, PhaseGating, PhaseCanary, PhaseUndoing, PhaseNone},   // canary failed
		{PhaseNone, PhaseStarting, PhaseGating, PhaseStandby, PhaseRetiring, PhaseNone}, // watched, rolled back
		{PhaseNone, PhaseRollingOut, PhaseUndoing, PhaseNone},                           // rolling failed
		{PhaseNone, PhaseSwitching, PhaseRetiring, PhaseNone},                           // rollback to standby
		{PhaseNone, PhaseSwitching, PhaseStarting, PhaseGating, PhaseStandby},           // rollback by redeploy
	}
	for _, path := range legal {
		for i := 1; i < len(path); i++ {
			if err := CheckTransition(path[i-1], path[i]); err != nil {
				t.Errorf("path %v: %v", path, err)
			}
		}
	}
	for _, bad := range [][2]Phase{
		{PhaseNone, PhaseStandby}, {PhaseStarting, PhaseStandby}, {PhaseStandby, PhaseGating},
		{PhaseRetiring, PhaseStandby}, {PhaseUndoing, PhaseStandby}, {PhaseGating, "flying"},
	} {
		if err := CheckTransition(bad[0], bad[1]); !errors.Is(err, ErrIllegalTransition) {
			t.Errorf("%q → %q = %v, want ErrIllegalTransition", bad[0], bad[1], err)
		}
	}
}

// TestEnumsKeepTheirStrings: kinds, phases and outcomes are persisted and
// served as the strings earlier versions wrote.
func TestEnumsKeepTheirStrings(t *testing.T) {
	rec := HistoryRecord{Kind: OpRollback, Outcome: OutcomeRolledBack}
	op := Operation{Kind: OpDeploy, Phase: PhaseRollingOut}
	b1, _ := json.Marshal(rec)
	b2, _ := json.Marshal(op)
	for _, want := range []string{`"kind":"rollback"`, `"outcome":"rolled_back"`} {
		if !strings.Contains(string(b1), want) {
			t.Errorf("history record %s lacks %s", b1, want)
		}
	}
	for _, want := range []string{`"kind":"deploy"`, `"phase":"rolling"`} {
		if !strings.Contains(string(b2), want) {
			t.Errorf("operation %s lacks %s", b2, want)
		}
	}
	var back Operation
	if err := json.Unmarshal([]byte(`{"kind":"retire","phase":"undoing"}`), &back); err != nil || back.Kind != OpRetire || back.Phase != PhaseUndoing {
		t.Errorf("decoded %+v, %v", back, err)
	}
	if OutcomeAborted.String() != "aborted" || PhaseCanary.String() != "canary" || OpDeploy.String() != "deploy" {
		t.Error("String() does not return the persisted name")
	}
}
