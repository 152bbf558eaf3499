package server

import (
	"context"
	"slices"

	"github.com/cutover-dev/cutover/internal/dashboard"
	"github.com/cutover-dev/cutover/internal/metrics"
)

// startDashboard starts sampling per-version traffic for the dashboard's
// stream and returns the dashboard the admin API serves; stop ends the
// sampling.
func startDashboard(ctx context.Context, reg *metrics.Registry, b *backend) (ui *dashboard.UI, stop func()) {
	rec := dashboard.NewRecorder(dashboard.RecorderOptions{Registry: reg, Services: b.serviceNames})
	rec.Start(ctx)
	return dashboard.New(dashboard.Options{Recorder: rec}), rec.Close
}

// serviceNames returns the services of the config in effect, in config order.
func (b *backend) serviceNames() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.cfg.ServiceOrder)
}
