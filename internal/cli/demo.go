package cli

import (
	"github.com/spf13/cobra"

	"github.com/cutover-dev/cutover/internal/demo"
)

func (a *app) demoCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "demo",
		GroupID: groupServer,
		Short:   "See a zero-downtime deploy happen on this machine, in under a minute",
		Long: `Demo starts a proxy and a small sample app on loopback, sends steady traffic through it and
deploys new versions while you watch: the health gate, the switch, the drain, a rollback, and
the count of failed requests (zero). It needs no config, no root and no Docker, and leaves
nothing running.`,
		Example: `  cutover demo
  cutover demo -o json`,
		Args: noArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			return demo.Run(cmd.Context(), demo.Options{Out: a.stdout, JSON: a.output == outputJSON})
		}),
	}
	a.addOutputFlag(cmd)
	return cmd
}
