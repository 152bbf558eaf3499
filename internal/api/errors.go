package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/deploy"
)

// Errors of the server and the client.
var (
	// ErrUnreachable wraps a failure to connect to the admin API (no server
	// on the socket, connection refused, dial timeout).
	ErrUnreachable = errors.New("cannot reach the cutover server")
	// ErrBadAddress reports an admin address NewClient cannot use.
	ErrBadAddress = errors.New("bad admin address")
	// ErrSocketInUse reports that another server answers on the unix socket
	// Start was asked to listen on.
	ErrSocketInUse = errors.New("another server is listening on the admin socket")
	// ErrBadOptions reports Options that NewServer cannot use.
	ErrBadOptions = errors.New("bad admin api options")
	// ErrStarted reports a second call to Start.
	ErrStarted = errors.New("admin api already started")
	// ErrClosed reports a call to Start after Close.
	ErrClosed = errors.New("admin api closed")
	// ErrStreamEnded reports an event stream that the server ended before
	// the operation it followed was done, or at all when following every
	// operation (the server shut down).
	ErrStreamEnded = errors.New("the server closed the event stream")
)

// Error codes carried in error responses. Each is stable: clients branch on it.
const (
	// CodeUnknownService: no such service in the config (404, deploy.ErrUnknownService).
	CodeUnknownService = "unknown_service"
	// CodeBusy: another operation runs on the service (409, deploy.ErrBusy).
	CodeBusy = "busy"
	// CodeInvalid: the request is malformed; the message names the field (400, deploy.ErrInvalid).
	CodeInvalid = "invalid"
	// CodeNoOperation: nothing to promote, abort, pause or resume (409, deploy.ErrNoOperation).
	CodeNoOperation = "no_operation"
	// CodeNothingToRollBack: no standby and no previous version (409, deploy.ErrNothingToRollBack).
	CodeNothingToRollBack = "nothing_to_roll_back"
	// CodeLiveRemoval: a reload would remove a service that serves traffic (409, deploy.ErrLiveRemoval).
	CodeLiveRemoval = "live_removal"
	// CodeInvalidConfig: reload found problems in the config file, listed in Details (400, config.ErrInvalid).
	CodeInvalidConfig = "invalid_config"
	// CodeUnauthorized: a TCP request without the right bearer token (401).
	CodeUnauthorized = "unauthorized"
	// CodeTooManyAttempts: the client IP sent too many wrong or missing
	// tokens and must wait the Retry-After seconds (429).
	CodeTooManyAttempts = "too_many_attempts"
	// CodeNotSupported: the request cannot be served for this instance,
	// e.g. following a container's log (501, ErrNotSupported).
	CodeNotSupported = "not_supported"
	// CodeNoInstance: the service has no instance of the version or id a
	// logs request named (404, ErrNoInstance).
	CodeNoInstance = "no_instance"
	// CodeNotFound: no such endpoint (404).
	CodeNotFound = "not_found"
	// CodeMethodNotAllowed: the endpoint exists for other methods (405).
	CodeMethodNotAllowed = "method_not_allowed"
	// CodeTooLarge: the request body is over 1 MiB (413).
	CodeTooLarge = "too_large"
	// CodeUpgradeFailed: the new process of an upgrade did not take over;
	// the old one goes on serving (502, ErrUpgradeFailed).
	CodeUpgradeFailed = "upgrade_failed"
	// CodeInternal: any other failure (500).
	CodeInternal = "internal"
)

// Error is an error response of the admin API. The server writes it as
// {"error":{...}}; the client returns it for every non-2xx response.
// Error matches (errors.Is) the sentinel its code stands for, such as
// deploy.ErrBusy for "busy" or config.ErrInvalid for "invalid_config".
type Error struct {
	// Status is the HTTP status code.
	Status int `json:"-"`
	// Code is a stable machine-readable code such as "busy".
	Code string `json:"code"`
	// Message is a human sentence naming the problem.
	Message string `json:"message"`
	// Details lists individual problems, e.g. one per config error.
	Details []string `json:"details,omitempty"`
}

// Error returns the message.
func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("%s (http %d)", e.Code, e.Status)
	}
	return e.Message
}

// Is reports whether target is the sentinel that e's code stands for.
func (e *Error) Is(target error) bool {
	for _, m := range errorMap {
		if m.code == e.Code && m.sentinel == target {
			return true
		}
	}
	return false
}

// errorMap is the one table between controller sentinels, HTTP status codes
// and error codes. Order matters: the first sentinel matched wins.
var errorMap = []struct {
	sentinel error
	status   int
	code     string
}{
	{deploy.ErrUnknownService, http.StatusNotFound, CodeUnknownService},
	{deploy.ErrBusy, http.StatusConflict, CodeBusy},
	{deploy.ErrNoOperation, http.StatusConflict, CodeNoOperation},
	{deploy.ErrNothingToRollBack, http.StatusConflict, CodeNothingToRollBack},
	{deploy.ErrLiveRemoval, http.StatusConflict, CodeLiveRemoval},
	{config.ErrInvalid, http.StatusBadRequest, CodeInvalidConfig},
	{deploy.ErrInvalid, http.StatusBadRequest, CodeInvalid},
	{ErrNoInstance, http.StatusNotFound, CodeNoInstance},
	{ErrNotSupported, http.StatusNotImplemented, CodeNotSupported},
	{ErrUpgradeFailed, http.StatusBadGateway, CodeUpgradeFailed},
}

// toError turns any error returned by the Backend (or by request decoding)
// into the *Error sent to the client.
func toError(err error) *Error {
	if e, ok := errors.AsType[*Error](err); ok {
		return e
	}
	for _, m := range errorMap {
		if errors.Is(err, m.sentinel) {
			e := &Error{Status: m.status, Code: m.code, Message: err.Error(), Details: details(err)}
			if n := len(e.Details); n > 0 {
				e.Message = fmt.Sprintf("the config file has %d %s; the running config is unchanged", n, plural(n, "problem"))
			}
			return e
		}
	}
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: err.Error()}
}

// plural returns word, with an "s" unless n is 1.
func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// details lists the entries of a config.Errors in err, if any.
func details(err error) []string {
	ces, ok := errors.AsType[config.Errors](err)
	if !ok {
		return nil
	}
	out := make([]string, len(ces))
	for i, ce := range ces {
		out[i] = ce.Error()
	}
	return out
}

// invalidf returns a 400 "invalid" error with a formatted message.
func invalidf(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalid, Message: fmt.Sprintf(format, args...)}
}
