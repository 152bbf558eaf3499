package cli

import (
	"github.com/spf13/cobra"
)

func (a *app) reloadCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "reload",
		GroupID: groupServer,
		Short:   "Make the server re-read its config file",
		Long: `Reload asks the running server to re-read its config file (as SIGHUP does). An invalid file
is rejected with every problem listed, and the server keeps running with its current config
(exit code 2).`,
		Example: `  cutover validate -c /etc/cutover/cutover.yaml && cutover reload`,
		Args:    noArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if err := c.Reload(cmd.Context()); err != nil {
				return err
			}
			if a.output == outputJSON {
				return printJSON(a.stdout, map[string]bool{"ok": true})
			}
			_, err = a.stdout.Write([]byte("config reloaded\n"))
			return err
		}),
	}
	a.addOutputFlag(cmd)
	return cmd
}
