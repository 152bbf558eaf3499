// Package demo runs cutover's self-contained demo: a proxy, the sample app,
// and deploys under load, with live progress and a summary.
package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/deploy"
	"github.com/cutover-dev/cutover/internal/server"
	"github.com/cutover-dev/cutover/internal/store"
)

// Options configures Run.
type Options struct {
	// Out receives progress and the summary (default os.Stdout).
	Out io.Writer
	// JSON prints one JSON object per event and a JSON summary.
	JSON bool
	// Versions to deploy in order (default v1, v2, v3); the demo then rolls
	// back to the previous one.
	Versions []string
	// Self is the cutover binary that runs the sample app (default os.Executable()).
	Self string
	// Logs, if set, receives the server's structured logs (default: discarded).
	Logs io.Writer
	// Hosts, when 2 or more, runs that many cutover serve processes as one
	// fleet instead (coordinated through the embedded etcd of this build,
	// else an etcd binary in PATH): a deploy that switches every host at
	// one commit, and one that fails on a host and aborts everywhere.
	// Versions and Logs do not apply.
	Hosts int
	// Report is the HTML file the run is rendered into at its end (the
	// dashboard's chart of requests per version and its timeline; default
	// cutover-demo-<time>.html in the temp dir). Not written with Hosts.
	Report string
}

// Summary is what the demo measured.
type Summary struct {
	Requests   int64            `json:"requests"`
	Failed     int64            `json:"failed"`
	PerVersion map[string]int64 `json:"per_version"`
	// Switches lists each switch and rollback with the time the routing swap took.
	Switches []SwitchTime  `json:"switches"`
	Duration time.Duration `json:"duration_ns"`
	// Errors lists up to 10 distinct failures seen by the load.
	Errors []string `json:"errors,omitempty"`
}

// SwitchTime is one traffic switch.
type SwitchTime struct {
	What string        `json:"what"`
	Took time.Duration `json:"took_ns"`
}

// ErrFailedRequests reports a demo run that saw failed requests.
var ErrFailedRequests = errors.New("requests failed during the demo")

// Run runs the demo until it ends (within a minute) or ctx is done, and
// leaves no process behind.
func Run(ctx context.Context, opts Options) error {
	if opts.Out == nil {
		opts.Out = os.Stdout
	}
	if opts.Hosts > 1 {
		return runHostsWithSelf(ctx, opts)
	}
	if len(opts.Versions) == 0 {
		opts.Versions = []string{"v1", "v2", "v3"}
	}
	if opts.Self == "" {
		self, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find the cutover binary: %w", err)
		}
		opts.Self = self
	}
	dir, err := os.MkdirTemp("", "cutover-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg, err := demoConfig(dir, opts.Self)
	if err != nil {
		return err
	}
	logs := opts.Logs
	if logs == nil {
		logs = io.Discard
	}
	p := newPrinter(opts.Out, opts.JSON)
	p.say("cutover demo: a proxy in front of a sample app; %d deploys and a rollback while clients send requests", len(opts.Versions))

	sctx, stop := context.WithCancel(ctx)
	defer stop()
	ready := make(chan *server.Server, 1)
	done := make(chan error, 1)
	go func() {
		done <- server.Run(sctx, server.Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(logs, nil)), Ready: ready})
	}()
	var srv *server.Server
	select {
	case srv = <-ready:
	case err := <-done:
		return fmt.Errorf("start the demo server: %w", err)
	case <-ctx.Done():
		return ctx.Err()
	}
	url := "http://" + srv.HTTPAddr
	p.say("proxy listening on %s", url)

	sum, runErr := script(ctx, srv.Controller, url, opts.Versions, p)
	if runErr == nil {
		path, err := writeReport(ctx, srv, p.events, opts.Report)
		if err != nil {
			runErr = err
		} else {
			p.report(path)
		}
	}

	cleanCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv.Controller.RetireAll(cleanCtx)
	stop()
	if err := <-done; err != nil && runErr == nil {
		runErr = err
	}
	p.summary(sum)
	if runErr != nil {
		return runErr
	}
	if sum.Failed > 0 {
		return fmt.Errorf("%w: %d of %d", ErrFailedRequests, sum.Failed, sum.Requests)
	}
	return nil
}

// runHostsWithSelf is runHosts with opts.Self defaulted.
func runHostsWithSelf(ctx context.Context, opts Options) error {
	if opts.Self == "" {
		self, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find the cutover binary: %w", err)
		}
		opts.Self = self
	}
	return runHosts(ctx, opts)
}

// settleTime is how long the demo lets each version serve before the next
// step: long enough for the report's chart (one point a second) to show
// each version leading.
const settleTime = 3 * time.Second

// script deploys each version under load, then rolls back once.
func script(ctx context.Context, ctl *deploy.Controller, url string, versions []string, p *printer) (Summary, error) {
	start := time.Now()
	var sum Summary
	l := newLoad(url)
	// The first version is deployed before the load starts: before it,
	// nothing serves.
	if err := deployAndFollow(ctx, ctl, p, &sum, func() (string, error) {
		return ctl.Deploy(ctx, deploy.DeployRequest{Service: "shop", Version: versions[0]})
	}); err != nil {
		return sum, err
	}
	lctx, stopLoad := context.WithCancel(ctx)
	loadDone := make(chan struct{})
	go func() { defer close(loadDone); l.Run(lctx) }()
	ticker := startTicker(lctx, l, p)
	finish := func() {
		stopLoad()
		<-loadDone
		<-ticker
		sum.Requests, sum.Failed, sum.PerVersion, sum.Errors = l.totals()
		sum.Duration = time.Since(start)
	}
	settle := func() {
		select {
		case <-time.After(settleTime):
		case <-ctx.Done():
		}
	}
	settle()
	for _, v := range versions[1:] {
		if err := deployAndFollow(ctx, ctl, p, &sum, func() (string, error) {
			return ctl.Deploy(ctx, deploy.DeployRequest{Service: "shop", Version: v})
		}); err != nil {
			finish()
			return sum, err
		}
		settle()
	}
	if len(versions) > 1 {
		if err := deployAndFollow(ctx, ctl, p, &sum, func() (string, error) {
			return ctl.Rollback(ctx, deploy.RollbackRequest{Service: "shop"})
		}); err != nil {
			finish()
			return sum, err
		}
		settle()
	}
	finish()
	return sum, nil
}

// deployAndFollow starts an operation and prints its events until it ends.
func deployAndFollow(ctx context.Context, ctl *deploy.Controller, p *printer, sum *Summary, start func() (string, error)) error {
	id, err := start()
	if err != nil {
		return err
	}
	events, cancel, err := ctl.Subscribe("", id)
	if err != nil {
		return err
	}
	defer cancel()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e, ok := <-events:
			if !ok {
				return errors.New("event stream ended early")
			}
			p.event(e)
			if us, ok := e.Data["switch_us"].(int64); ok {
				sum.Switches = append(sum.Switches, SwitchTime{What: e.Message, Took: time.Duration(us) * time.Microsecond})
			}
			if e.Type == deploy.EventDone {
				if e.Outcome != store.OutcomeDeployed {
					return fmt.Errorf("%s: %s", e.Outcome, e.Error)
				}
				return nil
			}
		}
	}
}

// demoConfig writes the demo's cutover.yaml and loads it, so the demo runs
// exactly the code a user's config does.
func demoConfig(dir, self string) (*config.Config, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	y := fmt.Sprintf(`# cutover demo config
listen:
  http: "127.0.0.1:0"
admin:
  socket: %q
state_dir: %q
access_log: false
services:
  shop:
    runtime: process
    process:
      command: %q
      args: ["sample-app", "--version", "{{.Version}}", "--port", "{{.Port}}", "--start-delay", "400ms"]
    ports: [%d, %d]
    health:
      path: /healthz
      interval: 100ms
      timeout: 1s
      healthy_threshold: 2
    drain_timeout: 10s
    deploy_timeout: 20s
    standby: 30s
    stop_grace: 5s
`, filepath.Join(dir, "admin.sock"), filepath.Join(dir, "state"), self, ports[0], ports[1])
	path := filepath.Join(dir, "cutover.yaml")
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		return nil, err
	}
	return config.Load(path)
}

// freePorts asks the kernel for n distinct free loopback ports.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// printer renders progress as text or JSON lines.
type printer struct {
	w     io.Writer
	json  bool
	start time.Time
	// events are the events printed, for the report.
	events []deploy.Event
}

func newPrinter(w io.Writer, asJSON bool) *printer {
	return &printer{w: w, json: asJSON, start: time.Now()}
}

func (p *printer) elapsed() string {
	return fmt.Sprintf("[%5.1fs]", time.Since(p.start).Seconds())
}

func (p *printer) say(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if p.json {
		p.emit(map[string]any{"type": "demo", "message": msg})
		return
	}
	fmt.Fprintf(p.w, "%s %s\n", p.elapsed(), msg)
}

func (p *printer) emit(v any) {
	b, _ := json.Marshal(v)
	fmt.Fprintf(p.w, "%s\n", b)
}

func (p *printer) event(e deploy.Event) {
	p.events = append(p.events, e)
	if p.json {
		p.emit(e)
		return
	}
	msg := e.Message
	if e.Type == deploy.EventWarn {
		msg = "warning: " + msg
	}
	fmt.Fprintf(p.w, "%s %-8s %s\n", p.elapsed(), e.Step, msg)
	if e.Output != "" {
		for _, line := range strings.Split(e.Output, "\n") {
			fmt.Fprintf(p.w, "           | %s\n", line)
		}
	}
}

func (p *printer) load(rps float64, total, failed int64) {
	if p.json {
		p.emit(map[string]any{"type": "load", "rps": int(rps), "requests": total, "failed": failed})
		return
	}
	fmt.Fprintf(p.w, "%s load     %6.0f req/s, %d requests, %d failed\n", p.elapsed(), rps, total, failed)
}

func (p *printer) report(path string) {
	if p.json {
		p.emit(map[string]any{"type": "report", "path": path})
		return
	}
	fmt.Fprintf(p.w, "%s report   %s (open it in a browser: the chart of requests per version and the timeline)\n", p.elapsed(), path)
}

func (p *printer) summary(s Summary) {
	if p.json {
		p.emit(map[string]any{"type": "summary", "summary": s})
		return
	}
	fmt.Fprintf(p.w, "\nSummary (%s)\n", s.Duration.Round(100*time.Millisecond))
	fmt.Fprintf(p.w, "  requests:  %d\n", s.Requests)
	fmt.Fprintf(p.w, "  failed:    %d\n", s.Failed)
	versions := make([]string, 0, len(s.PerVersion))
	for v := range s.PerVersion {
		versions = append(versions, v)
	}
	slices.Sort(versions)
	for _, v := range versions {
		fmt.Fprintf(p.w, "  served by %-6s %d\n", v+":", s.PerVersion[v])
	}
	for _, sw := range s.Switches {
		fmt.Fprintf(p.w, "  %s\n", sw.What)
	}
	for _, e := range s.Errors {
		fmt.Fprintf(p.w, "  error: %s\n", e)
	}
	if s.Failed == 0 {
		fmt.Fprintf(p.w, "Zero failed requests.\n")
	}
}
