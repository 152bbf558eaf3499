package dashboard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"os"
	"strings"
	"time"

	"github.com/cutover-dev/cutover/internal/deploy"
	"github.com/cutover-dev/cutover/internal/store"
)

// Report is what WriteReport renders: services with their status at the
// end, their history and events, and the traffic samples of the run.
type Report struct {
	Title     string          `json:"title"`
	Generated time.Time       `json:"generated"`
	Services  []ReportService `json:"services"`
	Samples   []Sample        `json:"samples"`
}

// ReportService is one service of a Report.
type ReportService struct {
	Status  deploy.ServiceStatus  `json:"status"`
	History []store.HistoryRecord `json:"history"`
	Events  []deploy.Event        `json:"events,omitempty"`
}

// WriteReport writes rep as one self-contained HTML file: the dashboard's
// style and script inline, the data as JSON, nothing loaded from
// elsewhere, no actions.
func WriteReport(w io.Writer, rep Report) error {
	css, err := assets.ReadFile("assets/style.css")
	if err != nil {
		return err
	}
	js, err := assets.ReadFile("assets/app.js")
	if err != nil {
		return err
	}
	tmpl, err := assets.ReadFile("assets/report.html")
	if err != nil {
		return err
	}
	if rep.Services == nil {
		rep.Services = []ReportService{}
	}
	// json.Marshal escapes <, > and &, so the data cannot end its script element.
	data, err := json.Marshal(rep)
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	if bytes.Contains(js, []byte("</script")) {
		return fmt.Errorf("app.js holds </script and cannot be inlined")
	}
	r := strings.NewReplacer(
		"{{title}}", html.EscapeString(rep.Title),
		"{{generated}}", html.EscapeString(rep.Generated.Format("2006-01-02 15:04:05 MST")),
		"{{style}}", string(css),
		"{{data}}", string(data),
		"{{script}}", string(js),
	)
	_, err = r.WriteString(w, string(tmpl))
	return err
}

// WriteReportFile writes rep to path (mode 0644) via WriteReport.
func WriteReportFile(path string, rep Report) error {
	var b bytes.Buffer
	if err := WriteReport(&b, rep); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}
