package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/spf13/cobra"

	"github.com/cutover-dev/cutover/internal/api"
	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/deploy"
)

// usageError is a mistake on the command line (exit 2).
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usagef returns a usageError with a formatted message.
func usagef(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

// exitError ends a command with a given code. A nil err means the command
// has already told the user everything.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

// ranError marks an error returned by a command's own code, as opposed to
// one cobra returns while parsing the command line (always a usage error).
type ranError struct{ err error }

func (e *ranError) Error() string { return e.err.Error() }
func (e *ranError) Unwrap() error { return e.err }

// runE adapts a command body so its errors are told apart from cobra's.
func runE(fn func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := fn(cmd, args); err != nil {
			return &ranError{err: err}
		}
		return nil
	}
}

// report prints err for the command cmd and returns the exit code.
func (a *app) report(cmd *cobra.Command, err error) int {
	var code int
	usage := false
	if ee, ok := errors.AsType[*exitError](err); ok {
		if ee.err == nil {
			return ee.code
		}
		code = ee.code
	} else if _, ok := errors.AsType[*usageError](err); ok || !isRan(err) {
		code, usage = ExitUsage, true
	} else {
		code = exitCodeOf(err)
	}
	if a.output == outputJSON {
		writeJSONError(a.stderr, err, code)
		return code
	}
	fmt.Fprintf(a.stderr, "error: %s\n", err)
	if ae, ok := errors.AsType[*api.Error](err); ok {
		for _, d := range ae.Details {
			fmt.Fprintf(a.stderr, "  %s\n", d)
		}
	}
	if h := hint(err); h != "" {
		fmt.Fprintf(a.stderr, "hint: %s\n", h)
	}
	if usage && cmd != nil {
		fmt.Fprintf(a.stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return code
}

func isRan(err error) bool {
	_, ok := errors.AsType[*ranError](err)
	return ok
}

// hint suggests what to do about err ("" when nothing useful comes to mind).
func hint(err error) string {
	if ae, ok := errors.AsType[*api.Error](err); ok && ae.Code == api.CodeUnauthorized {
		return "pass the admin API token with --token or CUTOVER_TOKEN"
	}
	if pe, ok := errors.AsType[*api.PermissionError](err); ok && pe.Group != "" {
		return "'id -nG' lists your groups; after 'sudo usermod -aG " + pe.Group + " $USER', log in again"
	}
	if ae, ok := errors.AsType[*api.Error](err); ok && ae.Code == api.CodeTooManyAttempts {
		return "too many wrong tokens from this address; wait, then pass the right one with --token or CUTOVER_TOKEN"
	}
	switch {
	case errors.Is(err, api.ErrUnreachable) && errors.Is(err, fs.ErrPermission):
		return "the server's admin.socket_group setting lets a group of users in"
	case errors.Is(err, api.ErrUnreachable):
		return "is 'cutover serve' running? Point at it with --admin ADDR, CUTOVER_ADMIN or -c FILE"
	case errors.Is(err, api.ErrStreamEnded):
		return "the server went away; check the operation with 'cutover status' once it is back"
	case errors.Is(err, deploy.ErrLiveRemoval):
		return "'cutover validate -c FILE' shows what a reload would change"
	case errors.Is(err, deploy.ErrBusy):
		return "wait for it ('cutover events SERVICE') or stop it ('cutover abort SERVICE')"
	case errors.Is(err, deploy.ErrUnknownService):
		return "'cutover status' lists the configured services"
	case errors.Is(err, api.ErrNoInstance):
		return "'cutover status SERVICE' lists the versions and instances that run"
	case errors.Is(err, deploy.ErrNoOperation):
		return "'cutover status SERVICE' shows what is running"
	}
	return ""
}

// jsonError is the shape of errors printed with -o json.
type jsonError struct {
	Error struct {
		Code    string   `json:"code"`
		Message string   `json:"message"`
		Details []string `json:"details,omitempty"`
	} `json:"error"`
	ExitCode int `json:"exit_code"`
}

// writeJSONError prints err as one JSON object.
func writeJSONError(w io.Writer, err error, code int) {
	var je jsonError
	je.ExitCode = code
	je.Error.Message = err.Error()
	if ae, ok := errors.AsType[*api.Error](err); ok {
		je.Error.Code, je.Error.Details = ae.Code, ae.Details
	} else {
		je.Error.Code = codeWord(code)
	}
	if ces, ok := errors.AsType[config.Errors](err); ok {
		je.Error.Message = "invalid config"
		for _, ce := range ces {
			je.Error.Details = append(je.Error.Details, ce.Error())
		}
	}
	b, _ := json.Marshal(je)
	fmt.Fprintln(w, string(b))
}

// codeWord names an exit code for JSON errors that do not come from the server.
func codeWord(code int) string {
	switch code {
	case ExitUsage:
		return "usage"
	case ExitUnreachable:
		return "unreachable"
	case ExitRefused:
		return "refused"
	case ExitRolledBack:
		return "rolled_back"
	case ExitAborted:
		return "aborted"
	case ExitStillRunning:
		return "still_running"
	}
	return "failed"
}
