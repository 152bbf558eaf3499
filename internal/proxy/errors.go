package proxy

import "errors"

// Errors returned by the Proxy and Server. They are wrapped with details;
// test with errors.Is.
var (
	// ErrInvalidSpec reports a service specification that fails validation.
	ErrInvalidSpec = errors.New("invalid service spec")
	// ErrDuplicateService reports two services with the same name.
	ErrDuplicateService = errors.New("duplicate service")
	// ErrRouteConflict reports two services claiming the same host and path prefix.
	ErrRouteConflict = errors.New("route conflict")
	// ErrTargetConflict reports one target ID used with two different addresses.
	ErrTargetConflict = errors.New("target conflict")
	// ErrUnknownService reports a service name that is not in the routing table.
	ErrUnknownService = errors.New("unknown service")
	// ErrUnknownTarget reports a target ID the proxy does not know.
	ErrUnknownTarget = errors.New("unknown target")
	// ErrInvalidOptions reports Options or ServerOptions that fail validation.
	ErrInvalidOptions = errors.New("invalid options")
	// ErrServerStarted reports a second call to Server.Start.
	ErrServerStarted = errors.New("server already started")
	// ErrServerClosed reports a call on a closed Server.
	ErrServerClosed = errors.New("server closed")
)
