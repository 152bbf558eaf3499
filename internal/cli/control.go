package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cutover-dev/cutover/internal/api"
)

// controlSpec describes a command that acts on a service's operation.
type controlSpec struct {
	use, short, long, example string
	done                      string // past tense for the confirmation, e.g. "promoted"
	act                       func(*api.Client, context.Context, string) error
}

// controlCmd builds a command that calls one admin action on SERVICE.
func (a *app) controlCmd(s controlSpec) *cobra.Command {
	cmd := &cobra.Command{
		Use:     s.use + " SERVICE",
		GroupID: groupDeploy,
		Short:   s.short,
		Long:    s.long,
		Example: s.example,
		Args:    needArgs("SERVICE"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if err := s.act(c, cmd.Context(), args[0]); err != nil {
				return err
			}
			return a.confirm(args[0], s.done)
		}),
	}
	a.addOutputFlag(cmd)
	return cmd
}

// confirm reports a completed action.
func (a *app) confirm(service, done string) error {
	if a.output == outputJSON {
		return printJSON(a.stdout, map[string]any{"ok": true, "service": service})
	}
	_, err := fmt.Fprintf(a.stdout, "%s: %s\n", service, done)
	return err
}

func (a *app) promoteCmd() *cobra.Command {
	return a.controlCmd(controlSpec{
		use:   "promote",
		short: "Finish a canary now, or end the standby window early",
		long: `Promote sends all traffic to the canary version at once, skipping its remaining steps and
analysis. After a switch it ends the standby window: the previous version is drained and
stopped now instead of at the end of the window (rollback then needs a restart).`,
		example: "  cutover promote web",
		done:    "promoted",
		act:     (*api.Client).Promote,
	})
}

func (a *app) abortCmd() *cobra.Command {
	return a.controlCmd(controlSpec{
		use:   "abort",
		short: "Stop the operation in progress; traffic goes back to where it was",
		long: `Abort stops the deploy or rollback in progress on SERVICE. Traffic stays on (or returns to)
the version that served before the operation, and the instances it started are removed.
The command that started the operation exits with code 6.`,
		example: "  cutover abort web",
		done:    "aborted",
		act:     (*api.Client).Abort,
	})
}

func (a *app) pauseCmd() *cobra.Command {
	return a.controlCmd(controlSpec{
		use:   "pause",
		short: "Hold a canary at its current traffic weight",
		long: `Pause stops a canary from moving to its next step: the weight stays where it is until
'cutover resume', 'cutover promote' or 'cutover abort'. Analysis goes on meanwhile.`,
		example: "  cutover pause web",
		done:    "paused",
		act:     (*api.Client).Pause,
	})
}

func (a *app) resumeCmd() *cobra.Command {
	return a.controlCmd(controlSpec{
		use:     "resume",
		short:   "Continue a paused canary",
		long:    `Resume lets a paused canary go on with its steps.`,
		example: "  cutover resume web",
		done:    "resumed",
		act:     (*api.Client).Resume,
	})
}

func (a *app) setWeightCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "set-weight SERVICE PERCENT",
		GroupID: groupDeploy,
		Short:   "Set the share of traffic a canary receives",
		Long: `Set-weight sends PERCENT (0 to 100, fractions allowed) of SERVICE's traffic to the canary
version now, overriding the weight of its current step. 'cutover status SERVICE' shows the
weight applied.`,
		Example: `  cutover set-weight web 10
  cutover set-weight web 2.5`,
		Args: needArgs("SERVICE", "PERCENT"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			p, err := strconv.ParseFloat(strings.TrimSuffix(args[1], "%"), 64)
			if err != nil || p < 0 || p > 100 {
				return usagef("PERCENT must be a number from 0 to 100, not %q", args[1])
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			if err := c.SetWeight(cmd.Context(), args[0], p); err != nil {
				return err
			}
			return a.confirm(args[0], "canary weight set to "+strconv.FormatFloat(p, 'f', -1, 64)+"%")
		}),
	}
	a.addOutputFlag(cmd)
	return cmd
}
