package proxy

import (
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// logAccess writes one access log record. Its attributes, in order:
// method, host, path, query, proto, service, version, target, upstream
// (the addresses tried, comma-separated), no_upstream (why none was tried,
// when upstream is empty), status, bytes, duration_s (the whole request)
// and upstream_s (until the upstream's response head), both seconds as a
// float, request_id, client, user_agent and referer.
func (p *Proxy) logAccess(r *http.Request, ex *exchange, d time.Duration) {
	var service, version string
	if ex.svc != nil {
		service = ex.svc.name
	}
	if ex.set != nil {
		version = ex.set.version
	}
	if ex.upHead == 0 && !ex.upStart.IsZero() {
		ex.upHead = time.Since(ex.upStart) // no response head: the time spent trying
	}
	attrs := make([]slog.Attr, 0, 18)
	attrs = append(attrs,
		slog.String("method", r.Method),
		slog.String("host", r.Host),
		slog.String("path", r.URL.Path),
		slog.String("query", r.URL.RawQuery),
		slog.String("proto", r.Proto),
		slog.String("service", service),
		slog.String("version", version),
		slog.String("target", targetID(ex.target)),
		slog.String("upstream", strings.Join(ex.upstreams, ", ")),
	)
	if len(ex.upstreams) == 0 {
		attrs = append(attrs, slog.String("no_upstream", noUpstreamReason(ex.status, ex.svc != nil)))
	}
	attrs = append(attrs,
		slog.Int("status", ex.status),
		slog.Int64("bytes", ex.bytes),
		slog.Float64("duration_s", d.Seconds()),
		slog.Float64("upstream_s", ex.upHead.Seconds()),
		slog.String("request_id", ex.requestID()),
		slog.String("client", r.RemoteAddr),
		slog.String("user_agent", r.UserAgent()),
		slog.String("referer", r.Referer()),
	)
	p.log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
}

// tryUpstream records that the upstream at addr is tried.
func (ex *exchange) tryUpstream(addr string) {
	if ex.upStart.IsZero() {
		ex.upStart = time.Now()
	}
	ex.upstreams = append(ex.upstreams, addr)
}

// noUpstreamReason says why a request was answered without trying an
// upstream.
func noUpstreamReason(status int, routed bool) string {
	switch {
	case !routed && status == http.StatusNotFound:
		return "no service matches the host and path"
	case status == http.StatusRequestEntityTooLarge:
		return "body over max_body_bytes"
	case status == http.StatusServiceUnavailable:
		return "no healthy target"
	case status == statusClientClosed:
		return "client went away"
	case status == http.StatusBadRequest || status == http.StatusRequestHeaderFieldsTooLarge:
		return "rejected by the listener"
	}
	return "answered by the proxy"
}
