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
