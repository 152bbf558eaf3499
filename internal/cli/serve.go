package cli

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/handover"
	"github.com/cutover-dev/cutover/internal/server"
)

// Files in the state directory that cutover serve keeps for upgrades.
const (
	// pidFileName holds the pid of the process that serves (systemd's PIDFile=).
	pidFileName = "cutover.pid"
	// upgradeReportName is where a new process of an upgrade writes why it
	// could not start.
	upgradeReportName = "upgrade-report"
)

func (a *app) serveCmd() *cobra.Command {
	var logFormat, logLevel string
	var upgradeTimeout time.Duration
	cmd := &cobra.Command{
		Use:     "serve -c FILE",
		GroupID: groupServer,
		Short:   "Run the proxy and the deploy controller",
		Long: `Serve runs cutover: the reverse proxy on the configured listeners, the deploy controller,
and the admin API the other commands talk to. It restores the state it recorded before a
restart and serves it at once: the listeners open first, the recorded routing answers within
milliseconds (instances found running are routed again and re-checked in the background), then
an interrupted deploy is finished or undone, its leftovers stopped in the background.

Signals: SIGTERM or SIGINT stops accepting, lets requests in flight finish and keep-alive
connections end, and exits; app instances keep running and the next serve re-adopts them.
SIGHUP reloads the config file (see 'cutover reload'). SIGUSR2 upgrades in place, like
'cutover upgrade': a new process of the same executable takes over the listening sockets and
the old one drains and exits, refusing no connection.

With systemd socket activation (LISTEN_FDS), the listeners are taken from systemd: sockets
named http, https, admin, admin-tcp and metrics (FileDescriptorName=), or matched by address.
The pid of the serving process is kept in <state_dir>/cutover.pid.

The config is checked exactly as 'cutover validate' checks it; a bad or unreadable file
exits with code 2. Logs go to standard error. With -o json the logs are JSON lines and, once
the listeners and the admin API are up, one JSON object is printed on standard output:
{"ready":true,"pid":...,"http":"...","https":"...","admin_socket":"...","version":"..."}.`,
		Example: `  cutover serve -c /etc/cutover/cutover.yaml
  cutover serve -c cutover.yaml -o json --log-level debug`,
		Args: noArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) (err error) {
			// A new process of an upgrade tells the old one why it failed.
			defer func() { handover.Report(err) }()
			path := a.configFile()
			if path == "" {
				return usagef("no config file; pass -c FILE or set %s", envConfig)
			}
			if !cmd.Flags().Changed("log-format") && a.output == outputJSON {
				logFormat = "json"
			}
			logger, err := newLogger(a.stderr, logFormat, logLevel)
			if err != nil {
				return err
			}
			cfg, err := config.Check(path)
			if err != nil {
				handover.Report(err)
				return a.invalidConfig(path, err)
			}
			// Run with absolute paths, so a reload and 'cutover validate'
			// elsewhere resolve relative paths in the file alike.
			if abs, err := filepath.Abs(path); err == nil && abs != path {
				if cfg, err = config.Check(abs); err != nil {
					handover.Report(err)
					return a.invalidConfig(path, err)
				}
			}
			sockets, err := handover.New(handover.Options{
				PIDFile: filepath.Join(cfg.StateDir, pidFileName), Timeout: upgradeTimeout,
				ReportFile: filepath.Join(cfg.StateDir, upgradeReportName), Logger: logger,
			})
			if err != nil {
				return err
			}
			var ready chan *server.Server
			if a.output == outputJSON {
				ready = make(chan *server.Server, 1)
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				if ready == nil {
					return
				}
				if srv, ok := <-ready; ok {
					_ = printReady(a.stdout, srv)
				}
			}()
			err = server.Run(cmd.Context(), server.Options{Config: cfg, Logger: logger, Ready: ready, Sockets: sockets})
			if ready != nil {
				close(ready)
			}
			<-done
			return err
		}),
	}
	cmd.Flags().StringVar(&logFormat, "log-format", "text", "log format: text or json (default json with -o json)")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "least important log level shown: debug, info, warn or error")
	cmd.Flags().DurationVar(&upgradeTimeout, "upgrade-timeout", handover.DefaultTimeout,
		"how long the new process of an upgrade may take to serve before it is killed and this one goes on")
	a.addOutputFlag(cmd)
	return cmd
}

// readyLine is the JSON object serve -o json prints once it serves.
type readyLine struct {
	Ready       bool   `json:"ready"`
	PID         int    `json:"pid"`
	HTTP        string `json:"http,omitempty"`
	HTTPS       string `json:"https,omitempty"`
	AdminSocket string `json:"admin_socket"`
	AdminTCP    string `json:"admin_tcp,omitempty"`
	Version     string `json:"version"`
}

func printReady(w io.Writer, srv *server.Server) error {
	return printJSONLine(w, readyLine{
		Ready: true, PID: os.Getpid(), HTTP: srv.HTTPAddr, HTTPS: srv.HTTPSAddr,
		AdminSocket: srv.API.SocketPath(), AdminTCP: srv.API.TCPAddr(), Version: buildInfo().Version,
	})
}

// newLogger builds the server's logger.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usagef("--log-level must be debug, info, warn or error, not %q", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usagef("--log-format must be text or json, not %q", format)
}
