package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
)

// metricsListener serves GET /metrics, and nothing else, on metrics.listen
// without a token. close stops it.
type metricsListener struct {
	srv  *http.Server
	ln   net.Listener
	done sync.WaitGroup
}

// startMetrics binds addr and serves h at /metrics in the background. A
// non-loopback address is logged at warn level: the metrics name services
// and versions, and anyone who can reach the port may read them.
func startMetrics(addr string, h http.Handler, log *slog.Logger, listen listenFunc) (*metricsListener, error) {
	ln, err := listen("metrics", "tcp", addr, func() (net.Listener, error) { return net.Listen("tcp", addr) })
	if err != nil {
		return nil, fmt.Errorf("listen on metrics.listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "only GET /metrics is served here", http.StatusNotFound)
	})
	m := &metricsListener{ln: ln, srv: &http.Server{
		Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}}
	m.done.Go(func() {
		if err := m.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener stopped", "addr", addr, "err", err)
		}
	})
	log.Info("metrics listening", "addr", ln.Addr().String())
	if !config.IsLoopback(addr) {
		log.Warn("metrics listener binds a non-loopback address without a token; anyone who reaches it reads the metrics",
			"addr", ln.Addr().String(), "fix", "bind metrics.listen to 127.0.0.1 or firewall the port")
	}
	return m, nil
}

// addr returns the bound address.
func (m *metricsListener) addr() string { return m.ln.Addr().String() }

// close stops the listener, letting scrapes in flight finish for a moment.
func (m *metricsListener) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if m.srv.Shutdown(ctx) != nil {
		_ = m.srv.Close()
	}
	m.done.Wait()
}
