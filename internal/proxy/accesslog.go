package proxy

import (
	"log/slog"
	"net/http"
	"time"
)

// logAccess writes one access log record.
func (p *Proxy) logAccess(r *http.Request, ex *exchange, d time.Duration) {
	var service, version string
	if ex.svc != nil {
		service = ex.svc.name
	}
	if ex.set != nil {
		version = ex.set.version
	}
	p.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
		slog.String("method", r.Method),
		slog.String("host", r.Host),
		slog.String("path", r.URL.Path),
		slog.String("service", service),
		slog.String("version", version),
		slog.String("target", targetID(ex.target)),
		slog.Int("status", ex.status),
		slog.Int64("bytes", ex.bytes),
		slog.Duration("duration", d),
		slog.String("request_id", ex.requestID()),
		slog.String("client", r.RemoteAddr),
	)
}
