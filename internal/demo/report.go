package demo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cutover-dev/cutover/internal/dashboard"
	"github.com/cutover-dev/cutover/internal/deploy"
	"github.com/cutover-dev/cutover/internal/server"
)

// reportPath returns where the report of a run goes: path, else a new
// file in the temp dir named by the time.
func reportPath(path string, now time.Time) string {
	if path != "" {
		return path
	}
	return filepath.Join(os.TempDir(), "cutover-demo-"+now.Format("20060102-150405")+".html")
}

// writeReport renders the run into an HTML file (the dashboard's chart
// and timeline, see dashboard.WriteReport) and returns its path.
func writeReport(ctx context.Context, srv *server.Server, events []deploy.Event, path string) (string, error) {
	all, err := srv.Controller.StatusAll(ctx)
	if err != nil {
		return "", err
	}
	rep := dashboard.Report{Title: "cutover demo", Generated: time.Now()}
	for _, st := range all {
		hist, err := srv.Controller.History(ctx, st.Name, 0)
		if err != nil {
			return "", err
		}
		var evs []deploy.Event
		for _, e := range events {
			if e.Service == st.Name {
				evs = append(evs, e)
			}
		}
		rep.Services = append(rep.Services, dashboard.ReportService{Status: st, History: hist, Events: evs})
	}
	if srv.Traffic != nil {
		rep.Samples = srv.Traffic.Samples(0)
	}
	path = reportPath(path, rep.Generated)
	if err := dashboard.WriteReportFile(path, rep); err != nil {
		return "", fmt.Errorf("write the demo report: %w", err)
	}
	return path, nil
}
