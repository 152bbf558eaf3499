package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/server"
)

func (a *app) validateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "validate -c FILE",
		GroupID: groupServer,
		Short:   "Check a config file without running anything",
		Long: `Validate reads the config file like 'cutover serve' would and reports every problem it finds,
each with its file, line, field and how to fix it: the same checks serve and reload make,
including that each process command and dir exists. It starts nothing and needs no server.
Exit code 0 means the file is valid, 2 that it is not (or cannot be read).

When a server is running (found as the other commands find it), validate also shows what
reloading this file would change: services added, removed (marking live ones, which reload
refuses to remove without --allow-remove) and changed, and keys that need a restart.`,
		Example: `  cutover validate -c /etc/cutover/cutover.yaml
  CUTOVER_CONFIG=cutover.yaml cutover validate -o json`,
		Args: noArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			path := a.configFile()
			if path == "" {
				return usagef("no config file; pass -c FILE or set %s", envConfig)
			}
			c, err := config.Check(path)
			if err != nil {
				return a.invalidConfig(path, err)
			}
			plan := a.reloadPlan(cmd.Context(), path)
			var warnings []string
			if c.Cluster.Backend == config.ClusterEmbedded && !server.HasEmbeddedEtcd() {
				warnings = append(warnings, "cluster.backend embedded needs the build of cutover with the embedded etcd server "+
					"(go build -tags "+server.EmbeddedEtcdBuildTag+" ./cmd/cutover); 'cutover serve' of this binary refuses it")
			}
			if a.output == outputJSON {
				out := map[string]any{"ok": true, "file": path, "services": c.ServiceOrder}
				if plan != nil {
					out["reload"] = plan
				}
				if len(warnings) > 0 {
					out["warnings"] = warnings
				}
				return printJSON(a.stdout, out)
			}
			for _, w := range warnings {
				fmt.Fprintf(a.stderr, "warning: %s\n", w)
			}
			if _, err := fmt.Fprintf(a.stdout, "ok: %d %s\n", len(c.Services), plural(len(c.Services), "service")); err != nil {
				return err
			}
			if plan == nil {
				return nil
			}
			if plan.Changes.Empty() {
				_, err = fmt.Fprintln(a.stdout, "reload would change nothing on the running server")
				return err
			}
			if _, err := fmt.Fprintln(a.stdout, "reload would change on the running server:"); err != nil {
				return err
			}
			return printChanges(a.stdout, plan.Changes, sliceSet(plan.LiveRemoved))
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
