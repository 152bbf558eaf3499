// Package dashboard is cutover's web dashboard: a page served by the admin
// API under /ui/ that shows every service live (versions, instances and
// their health, weights, per-version traffic, the canary verdict, a chart
// of requests per version and the deploy history as a timeline) and offers
// promote, abort, pause, resume and rollback with a confirmation.
//
// The page is plain HTML, CSS and JavaScript embedded in the binary
// (assets/, no build step, no third-party script) and loads nothing from
// outside the admin listener. It reads the admin API's JSON endpoints and
// two NDJSON streams: GET /v1/events (deploy progress) and GET /v1/traffic
// (one line per second with each version's requests, errors and latency,
// served by a Recorder).
//
// A browser cannot send the admin token itself, so it logs in once: a
// client that may use the admin API (the unix socket, or TCP with the
// token) asks for a one-time login code (POST /v1/dashboard/login), and
// the browser opens /ui/login?code=..., which sets a session cookie
// (HttpOnly, SameSite=Strict). Requests that change something must also
// carry the session's CSRF token in the X-Cutover-CSRF header and, when the
// browser sends one, an Origin of the listener itself (see Sessions).
// `cutover dashboard` mints the code and, for a unix socket, serves a local
// TCP port that forwards to the socket (see Forwarder): requests through it
// need a session like requests on TCP.
//
// WriteReport renders the same chart and timeline into one self-contained
// HTML file (cutover demo writes one at its end).
package dashboard
