package cli

import (
	"errors"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/server"
)

func (a *app) serveCmd() *cobra.Command {
	var logFormat, logLevel string
	cmd := &cobra.Command{
		Use:     "serve -c FILE",
		GroupID: groupServer,
		Short:   "Run the proxy and the deploy controller",
		Long: `Serve runs cutover: the reverse proxy on the configured listeners, the deploy controller,
and the admin API the other commands talk to. It restores the state it recorded before a
restart (re-checking the health of instances it finds running) and serves until SIGINT or
SIGTERM, then drains requests in flight and exits. SIGHUP reloads the config file.

Logs go to standard error.`,
		Example: `  cutover serve -c /etc/cutover/cutover.yaml
  cutover serve -c cutover.yaml --log-format json --log-level debug`,
		Args: noArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			path := a.configFile()
			if path == "" {
				return usagef("no config file; pass -c FILE or set %s", envConfig)
			}
			logger, err := newLogger(a.stderr, logFormat, logLevel)
			if err != nil {
				return err
			}
			err = server.Run(cmd.Context(), server.Options{ConfigPath: path, Logger: logger})
			if errors.Is(err, config.ErrInvalid) {
				return a.invalidConfig(path, err)
			}
			return err
		}),
	}
	cmd.Flags().StringVar(&logFormat, "log-format", "text", "log format: text or json")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "least important log level shown: debug, info, warn or error")
	return cmd
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
