// Package api is cutover's admin API: a versioned HTTP/JSON server (/v1/...)
// in front of the deploy controller, and the Go client the command line uses.
//
// The server listens on a unix socket (created mode 0600, so filesystem
// permissions decide who may deploy) and optionally on TCP, where every
// request must carry the configured bearer token. Errors are JSON objects of
// the form {"error":{"code":"busy","message":"..."}}; the mapping from the
// controller's error sentinels to HTTP status codes and error codes lives in
// one place (errors.go) and is used in both directions: the client turns an
// error response back into an *Error that matches the same sentinels with
// errors.Is.
//
// Progress of operations is streamed from GET /v1/events as newline-delimited
// JSON (one deploy.Event per line, a blank line as heartbeat).
//
// The server also serves the web dashboard (package dashboard): the page
// under /ui/, its one-time logins (POST /v1/dashboard/login, GET
// /ui/login) and the per-second traffic stream GET /v1/traffic. A browser
// authenticates with a session cookie instead of the token; see
// authenticate for the rule of each listener.
package api
