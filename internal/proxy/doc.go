// Package proxy is cutover's data plane: the HTTP listeners, the routing table
// (host and path prefix to a service, a service to weighted target sets),
// load balancing, per-target in-flight counting and draining, forwarding with
// WebSocket and streaming support, error pages, the access log and
// per-version request metrics.
//
// The routing table is an immutable value published through an atomic
// pointer: each request loads one snapshot, and every change (Apply,
// UpdateService, RemoveService, SetWeight) builds and publishes a whole new
// table, so a switch never fails a request. A request whose snapshot only
// offers draining targets is routed again on the current table. Targets are
// identified by ID and live in a registry shared across table versions, so
// in-flight counters, health state and upstream connection pools survive
// switches.
//
// The plain listener serves HTTP/1.1 with its own connection loop
// (h1conn.go): one goroutine per connection, a request, header map and
// response writer reused for every request of it, heads parsed in place
// (h1parse.go, fuzzed against net/http) and responses written with as few
// system calls as possible. Connections that open with the HTTP/2 preface,
// TLS listeners and the admin API are served by net/http.
//
// Upstreams are spoken to over HTTP/1.1 by a small client in this package:
// each target has its own LIFO pool of keep-alive connections (so draining
// one target closes only its connections), requests are written and
// responses parsed in the handler's goroutine, and an idle connection is
// probed before reuse so that one the upstream has closed is not used. A
// request moves to another target only when the connection could not be
// opened; an idempotent request without a body is also resent once when a
// reused connection turns out to be closed before any response byte. Nothing
// else is ever retried.
package proxy
