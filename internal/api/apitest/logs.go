package apitest

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/cutover-dev/cutover/internal/api"
)

// SetLog sets the output Logs shows for the given service and version
// ("" = the version Logs picks when the request names none).
func (f *Fake) SetLog(service, version, text string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.logs == nil {
		f.logs = map[string]string{}
	}
	f.logs[service+"@"+version] = text
}

// Logs implements api.LogBackend: it writes the last req.Lines lines of
// the text set with SetLog and, with req.Follow, then waits for ctx. A
// version without a log is api.ErrNoInstance.
func (f *Fake) Logs(ctx context.Context, req api.LogsRequest, w io.Writer) error {
	f.mu.Lock()
	err := f.record("Logs", req.Service, req)
	text, ok := f.logs[req.Service+"@"+req.Version]
	f.mu.Unlock()
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: service %s has no release %s", api.ErrNoInstance, req.Service, req.Version)
	}
	if _, err := io.WriteString(w, lastLines(text, req.Lines)); err != nil {
		return err
	}
	if req.Follow {
		<-ctx.Done()
	}
	return nil
}

// lastLines returns the last n lines of s (all when n < 0).
func lastLines(s string, n int) string {
	if n < 0 {
		return s
	}
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return strings.Join(lines[max(0, len(lines)-n):], "")
}
