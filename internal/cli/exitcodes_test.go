package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/cutover-dev/cutover/internal/api"
	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/deploy"
	"github.com/cutover-dev/cutover/internal/store"
)

func TestExitCodeOf(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{nil, ExitOK},
		{errors.New("boom"), ExitFailed},
		{fmt.Errorf("x: %w", api.ErrUnreachable), ExitUnreachable},
		{api.ErrStreamEnded, ExitUnreachable},
		{&api.Error{Status: http.StatusUnauthorized, Code: api.CodeUnauthorized}, ExitUnreachable},
		{&api.Error{Status: 409, Code: api.CodeBusy}, ExitRefused},
		{&api.Error{Status: 409, Code: api.CodeNothingToRollBack}, ExitRefused},
		{&api.Error{Status: 409, Code: api.CodeNoOperation}, ExitRefused},
		{&api.Error{Status: 404, Code: api.CodeUnknownService}, ExitRefused},
		{&api.Error{Status: 400, Code: api.CodeInvalid}, ExitUsage},
		{&api.Error{Status: 400, Code: api.CodeInvalidConfig}, ExitUsage},
		{&api.Error{Status: 500, Code: api.CodeInternal}, ExitFailed},
		{config.Errors{{Msg: "x"}}, ExitUsage},
		{fmt.Errorf("%w", api.ErrBadAddress), ExitUsage},
		{deploy.ErrAborted, ExitAborted},
		{errors.New("deploy failed"), ExitFailed},
		{context.Canceled, ExitFailed},
	}
	for _, tt := range tests {
		if got := exitCodeOf(tt.err); got != tt.want {
			t.Errorf("exitCodeOf(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

func TestOutcomeExitCode(t *testing.T) {
	for outcome, want := range map[store.Outcome]int{
		store.OutcomeDeployed: ExitOK, store.OutcomeFailed: ExitFailed,
		store.OutcomeRolledBack: ExitRolledBack, store.OutcomeAborted: ExitAborted, "": ExitFailed,
	} {
		if got := outcomeExitCode(outcome); got != want {
			t.Errorf("outcomeExitCode(%q) = %d, want %d", outcome, got, want)
		}
	}
}

func TestExitCodesAreDistinct(t *testing.T) {
	seen := map[int]bool{}
	for i, e := range exitCodeTable {
		if seen[e.code] || e.code != i {
			t.Errorf("exit code table entry %d has code %d", i, e.code)
		}
		seen[e.code] = true
	}
}
