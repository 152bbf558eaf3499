package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cutover-dev/cutover/internal/api"
	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/deploy"
	"github.com/cutover-dev/cutover/internal/server"
	"github.com/cutover-dev/cutover/internal/store"
)

// Exit codes of the cutover command. They are part of its interface: scripts
// and CI jobs branch on them.
const (
	// ExitOK: success; for deploy and rollback, the version is live.
	ExitOK = 0
	// ExitFailed: the operation failed and traffic is unchanged, or another error.
	ExitFailed = 1
	// ExitUsage: bad flags or arguments, or an invalid config or request.
	ExitUsage = 2
	// ExitRolledBack: the deploy switched traffic and was rolled back automatically.
	ExitRolledBack = 3
	// ExitUnreachable: the cutover server cannot be reached (or refused the token).
	ExitUnreachable = 4
	// ExitRefused: the server refused the request: another operation is in
	// progress, nothing to roll back or act on, an unknown service, or a
	// reload that would remove a live service.
	ExitRefused = 5
	// ExitAborted: the operation was aborted by a user; traffic is unchanged.
	ExitAborted = 6
	// ExitStillRunning: the command stopped waiting (Ctrl-C or --timeout) while
	// the operation continues on the server.
	ExitStillRunning = 7
)

// exitCodeTable documents the exit codes in help output, in order.
var exitCodeTable = []struct {
	code    int
	meaning string
}{
	{ExitOK, "success (deploy, rollback: the version is live)"},
	{ExitFailed, "failed; traffic unchanged"},
	{ExitUsage, "usage error: bad flags or arguments, invalid config or request"},
	{ExitRolledBack, "switched, then rolled back automatically"},
	{ExitUnreachable, "cannot reach the cutover server (or it refused the token)"},
	{ExitRefused, "refused: operation in progress, nothing to roll back, unknown service, live service removal"},
	{ExitAborted, "aborted by a user; traffic unchanged"},
	{ExitStillRunning, "stopped waiting (Ctrl-C, --timeout); the operation goes on"},
}

// exitCodesHelp renders exitCodeTable for help text.
func exitCodesHelp() string {
	var b strings.Builder
	b.WriteString("Exit codes:\n")
	for _, e := range exitCodeTable {
		fmt.Fprintf(&b, "  %d  %s\n", e.code, e.meaning)
	}
	return strings.TrimRight(b.String(), "\n")
}

// exitCodeOf maps an error of a command to its exit code.
func exitCodeOf(err error) int {
	if ae, ok := errors.AsType[*api.Error](err); ok && ae.Code == api.CodeUnauthorized {
		return ExitUnreachable
	}
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, api.ErrUnreachable), errors.Is(err, api.ErrStreamEnded):
		return ExitUnreachable
	case errors.Is(err, deploy.ErrBusy), errors.Is(err, deploy.ErrNothingToRollBack),
		errors.Is(err, deploy.ErrUnknownService), errors.Is(err, deploy.ErrNoOperation),
		errors.Is(err, deploy.ErrLiveRemoval):
		return ExitRefused
	case errors.Is(err, config.ErrInvalid), errors.Is(err, deploy.ErrInvalid), errors.Is(err, api.ErrBadAddress),
		errors.Is(err, server.ErrNoEmbeddedEtcd):
		return ExitUsage
	case errors.Is(err, deploy.ErrAborted):
		return ExitAborted
	}
	return ExitFailed
}

// outcomeExitCode maps the Outcome of an EventDone to the exit code.
func outcomeExitCode(outcome store.Outcome) int {
	switch outcome {
	case store.OutcomeDeployed:
		return ExitOK
	case store.OutcomeRolledBack:
		return ExitRolledBack
	case store.OutcomeAborted:
		return ExitAborted
	}
	return ExitFailed
}
