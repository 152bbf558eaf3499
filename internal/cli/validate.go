package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cutover-dev/cutover/internal/config"
)

func (a *app) validateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "validate -c FILE",
		GroupID: groupServer,
		Short:   "Check a config file without running anything",
		Long: `Validate reads the config file like 'cutover serve' would and reports every problem it finds,
each with its file, line, field and how to fix it. It starts nothing and needs no server.
Exit code 0 means the file is valid, 2 that it is not (or cannot be read).`,
		Example: `  cutover validate -c /etc/cutover/cutover.yaml
  CUTOVER_CONFIG=cutover.yaml cutover validate -o json`,
		Args: noArgs,
		RunE: runE(func(_ *cobra.Command, _ []string) error {
			path := a.configFile()
			if path == "" {
				return usagef("no config file; pass -c FILE or set %s", envConfig)
			}
			c, err := config.Load(path)
			if err != nil {
				return a.invalidConfig(path, err)
			}
			if a.output == outputJSON {
				return printJSON(a.stdout, map[string]any{"ok": true, "file": path, "services": c.ServiceOrder})
			}
			_, err = fmt.Fprintf(a.stdout, "ok: %d services\n", len(c.Services))
			return err
		}),
	}
	a.addOutputFlag(cmd)
	return cmd
}

// configProblem is one config error as printed with -o json.
type configProblem struct {
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
	Fix     string `json:"fix,omitempty"`
}

// invalidConfig reports a config that failed to load and returns the exit error.
func (a *app) invalidConfig(path string, err error) error {
	ces, ok := errors.AsType[config.Errors](err)
	if !ok {
		return &usageError{err: err}
	}
	if a.output == outputJSON {
		probs := make([]configProblem, len(ces))
		for i, e := range ces {
			probs[i] = configProblem{File: e.File, Line: e.Line, Column: e.Column, Path: e.Path, Message: e.Msg, Fix: e.Fix}
		}
		_ = printJSON(a.stdout, map[string]any{"ok": false, "file": path, "errors": probs})
		return &exitError{code: ExitUsage}
	}
	noun := "problems"
	if len(ces) == 1 {
		noun = "problem"
	}
	fmt.Fprintf(a.stderr, "%s: %d %s:\n", path, len(ces), noun)
	for _, e := range ces {
		fmt.Fprintf(a.stderr, "  %s\n", e)
	}
	return &exitError{code: ExitUsage}
}
