// Package health probes app instances over HTTP or TCP.
//
// A Check says how to probe (CheckFromConfig builds one from cutover.yaml).
// Probe runs one probe. Gate probes a new instance until it has passed
// HealthyThreshold consecutive probes, or gives up at a deadline with an
// error wrapping ErrNotHealthy whose text gives the last probe's Reason.
// Monitor keeps probing live instances, each from its own goroutine, and
// reports transitions: unhealthy after UnhealthyThreshold consecutive
// failures, healthy again after HealthyThreshold consecutive successes.
//
// HTTP probes send GET with User-Agent "cutover-health", never follow
// redirects (a 3xx is judged by the accepted status range), read at most
// MaxBodyExcerpt bytes of the body and keep no idle connection. TCP probes
// open a connection and close it at once.
package health
