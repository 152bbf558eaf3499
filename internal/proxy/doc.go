// Package proxy is cutover's data plane: the HTTP listeners, the routing table
// (host and path prefix to a service, a service to weighted target sets),
// load balancing, per-target in-flight counting and draining, forwarding with
// WebSocket and streaming support, error pages, the access log and
// per-version request metrics.
//
// The routing table is an immutable value published through an atomic
// pointer: each request loads one snapshot, and every change (Apply,
// UpdateService, RemoveService, SetWeight) builds and publishes a whole new
// table, so a switch never fails a request. Targets are identified by ID and
// live in a registry shared across table versions, so in-flight counters,
// health state and upstream connection pools survive switches.
package proxy
