package dashboard

import (
	"context"
	"net"
	"net/http"
	"net/http/httputil"
	"time"
)

// ForwardedHeader marks a request that a Forwarder passed to the admin
// unix socket. The socket trusts its clients (filesystem permissions
// decide who may connect), but a forwarded request comes from a TCP port
// that anyone on the host may reach: the admin API holds it to a
// dashboard session, as on TCP. The Forwarder always sets it, overwriting
// whatever the browser sent.
const ForwardedHeader = "Cutover-Dashboard-Forwarded"

// NewForwarder returns a handler that passes every request to the admin
// API reached through dial (the unix socket), marked with ForwardedHeader
// and keeping the Host the browser used (the origin check compares it).
// Responses are streamed as they come, so event streams flow.
func NewForwarder(dial func(ctx context.Context) (net.Conn, error)) http.Handler {
	tr := &http.Transport{
		DialContext:         func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) },
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     30 * time.Second,
	}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = "cutover"
			pr.Out.Host = pr.In.Host
			pr.Out.Header.Del("Authorization")
			pr.Out.Header.Set(ForwardedHeader, "1")
		},
		Transport:     tr,
		FlushInterval: -1,
	}
}
