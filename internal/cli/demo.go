package cli

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/cutover-dev/cutover/internal/demo"
)

func (a *app) demoCmd() *cobra.Command {
	var hosts int
	var report string
	cmd := &cobra.Command{
		Use:     "demo",
		GroupID: groupServer,
		Short:   "See a zero-downtime deploy happen on this machine, in under a minute",
		Long: `Demo starts a proxy and a small sample app on loopback, sends steady traffic through it and
deploys new versions while you watch: the health gate, the switch, the drain, a rollback, and
the count of failed requests (zero). It needs no config, no root and no Docker, and leaves
nothing running. At its end it writes an HTML report of the run (the dashboard's chart of
requests per version, where each switch shows as a crossover, and the deploy timeline) and
prints its path.

With --hosts N (2 to 5) it runs N cutover serve processes as one fleet, each with its own
state, ports and sample app, and sends traffic to every host in turn: a deploy that every
host prepares before one commit switches them all (with the mixed-version window the traffic
saw), then a deploy that fails its health check on one host and aborts everywhere. The hosts
coordinate through the embedded etcd of the embedetcd build (go build -tags embedetcd), or
else through an etcd binary in PATH that the demo starts on loopback; with neither, it says
how to get one and exits with code 2.`,
		Example: `  cutover demo
  cutover demo -o json
  cutover demo --hosts 3
  go run -tags embedetcd ./cmd/cutover demo --hosts 3`,
		Args: noArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			if hosts < 1 || hosts > demo.MaxHosts {
				return usagef("--hosts must be 1 to %d, not %d", demo.MaxHosts, hosts)
			}
			err := demo.Run(cmd.Context(), demo.Options{Out: a.stdout, JSON: a.output == outputJSON, Hosts: hosts, Report: report})
			if errors.Is(err, demo.ErrNoEtcd) {
				return &exitError{code: ExitUsage, err: err}
			}
			return err
		}),
	}
	cmd.Flags().IntVar(&hosts, "hosts", 1, "run this many cutover serve processes as one fleet (2 to 5; needs etcd, see above)")
	cmd.Flags().StringVar(&report, "report", "", "write the HTML report of the run here (default: cutover-demo-<time>.html in the temp dir)")
	a.addOutputFlag(cmd)
	return cmd
}
