package engine

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Sentinel errors reported by Client methods; test with errors.Is.
var (
	// ErrUnreachable reports that the engine could not be reached at all
	// (socket missing, permission denied, connection refused).
	ErrUnreachable = errors.New("docker engine unreachable")
	// ErrNotFound reports that the engine answered 404: the container or
	// image does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict reports that the engine answered 409: a name is taken, an
	// image is in use, or a removal is already in progress.
	ErrConflict = errors.New("conflict")
	// ErrUnsupportedVersion reports an engine whose API versions do not
	// overlap with the versions this client speaks.
	ErrUnsupportedVersion = errors.New("unsupported docker engine api version")
	// ErrInvalidHost reports a host address the client cannot use.
	ErrInvalidHost = errors.New("invalid docker host")
)

// Error is a failed engine API call: the engine answered with a status code
// of 400 or more, or a streamed operation (pull, build) reported a failure.
type Error struct {
	// Op names the operation, e.g. "container create".
	Op string
	// StatusCode is the HTTP status the engine answered (200 for a failure
	// reported inside a streamed response).
	StatusCode int
	// Message is the engine's own error text.
	Message string
}

// Error returns "docker <op>: <message> (http <status>)".
func (e *Error) Error() string {
	return fmt.Sprintf("docker %s: %s (http %d)", e.Op, e.Message, e.StatusCode)
}

// Is makes errors.Is(err, ErrNotFound) and errors.Is(err, ErrConflict) match
// the corresponding status codes.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrConflict:
		return e.StatusCode == http.StatusConflict
	}
	return false
}

// IsGone reports whether err says the object no longer exists or is being
// removed by the engine already: the outcome a caller removing it wanted.
func IsGone(err error) bool {
	if errors.Is(err, ErrNotFound) {
		return true
	}
	var e *Error
	return errors.As(err, &e) && e.StatusCode == http.StatusConflict &&
		strings.Contains(e.Message, "already in progress")
}
