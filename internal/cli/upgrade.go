package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

func (a *app) upgradeCmd() *cobra.Command {
	var binary string
	cmd := &cobra.Command{
		Use:     "upgrade",
		GroupID: groupServer,
		Short:   "Replace the running cutover serve with a new binary, refusing no connection",
		Long: `Upgrade replaces the running 'cutover serve' process with a new one without refusing or
failing a request, as nginx's binary upgrade (USR2) and HAProxy's socket transfer (-x) do.
Install the new binary over the old one first (or name it with --binary), then run upgrade.

The server starts the new binary with its own arguments and hands it the listening sockets
(public, admin, metrics), which keep accepting all along; the new process reads the config
file and the recorded state as a restart does, re-adopts the app instances (they keep
running), and reports ready. Only then does the old process stop accepting, let its requests
in flight finish and its keep-alive connections end, and exit. While the upgrade runs, the
controller refuses operations; an upgrade is refused with exit code 5 while an operation
(a deploy, a canary, a watch period) runs.

If the new process exits, or is not ready within the server's --upgrade-timeout (default
30s; it is then killed), the old one goes on serving and upgrade exits with code 1 and the
reason. SIGUSR2 to 'cutover serve' does the same upgrade with the current binary.`,
		Example: `  install -m 0755 cutover-1.5.0 /usr/local/bin/cutover && cutover upgrade
  cutover upgrade --binary /opt/cutover/1.5.0/cutover -o json`,
		Args: noArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			res, err := c.Upgrade(cmd.Context(), binary)
			if err != nil {
				return err
			}
			if a.output == outputJSON {
				return printJSON(a.stdout, map[string]any{"ok": true, "pid": res.PID, "previous_pid": res.Previous,
					"binary": res.Binary, "took_ms": res.Took.Milliseconds()})
			}
			_, err = fmt.Fprintf(a.stdout, "upgraded: pid %d serves (%s), pid %d drains and exits; took %s\n",
				res.PID, res.Binary, res.Previous, res.Took.Round(time.Millisecond))
			return err
		}),
	}
	cmd.Flags().StringVar(&binary, "binary", "", "path of the new binary on the server's host (default: the executable cutover serve was started from)")
	a.addOutputFlag(cmd)
	return cmd
}
