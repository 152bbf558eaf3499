// Package server wires cutover serve: proxy, health monitor, controller,
// store and admin API, with signal handling.
package server

import (
	"context"
	"errors"
	"log/slog"
)

// Options configures Run.
type Options struct {
	// ConfigPath is the cutover.yaml to load.
	ConfigPath string
	// Logger receives structured logs (default slog.Default()).
	Logger *slog.Logger
	// Ready, if not nil, is closed when listeners and the admin API are up.
	Ready chan<- struct{}
}

// Run serves until ctx is done (SIGTERM/SIGINT are the caller's concern), then
// drains and returns. SIGHUP handling is done by Run itself.
func Run(ctx context.Context, opts Options) error { return errors.New("not implemented") }
