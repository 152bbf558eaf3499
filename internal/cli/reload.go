package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/deploy"
)

func (a *app) reloadCmd() *cobra.Command {
	var allowRemove bool
	cmd := &cobra.Command{
		Use:     "reload",
		GroupID: groupServer,
		Short:   "Make the server re-read its config file",
		Long: `Reload asks the running server to re-read its config file (as SIGHUP does) and prints what
changed. An invalid file is rejected with every problem listed, and the server keeps running
with its current config (exit code 2). A file that drops a service still serving a release
(a rename looks like that) is refused with exit code 5 unless --allow-remove is given, which
retires it.

Moved listeners (listen.http, listen.https) are opened before the old ones close and the TLS
certificate is re-read; other changed keys outside services (admin.*, state_dir, listen
timeouts, ...) are listed as needing a restart of 'cutover serve'. The admin socket is found
even when the config file is invalid, so the server's list of problems can be shown.`,
		Example: `  cutover validate -c /etc/cutover/cutover.yaml && cutover reload
  cutover reload --allow-remove   # after removing a service on purpose`,
		Args: noArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			ch, err := c.Reload(cmd.Context(), deploy.ReloadOptions{AllowRemove: allowRemove})
			if err != nil {
				return err
			}
			if a.output == outputJSON {
				return printJSON(a.stdout, map[string]any{"ok": true, "changes": ch})
			}
			if ch.Empty() {
				_, err = io.WriteString(a.stdout, "config reloaded: nothing changed\n")
				return err
			}
			if _, err := io.WriteString(a.stdout, "config reloaded:\n"); err != nil {
				return err
			}
			return printChanges(a.stdout, ch, nil)
		}),
	}
	cmd.Flags().BoolVar(&allowRemove, "allow-remove", false, "retire services the file no longer lists, even live ones")
	a.addOutputFlag(cmd)
	return cmd
}

// printChanges writes ch as indented lines; live names the removed services
// that serve traffic (nil when unknown).
func printChanges(w io.Writer, ch config.Changes, live map[string]bool) error {
	var b strings.Builder
	line := func(label string, items []string) {
		if len(items) > 0 {
			fmt.Fprintf(&b, "  %-17s %s\n", label+":", strings.Join(items, ", "))
		}
	}
	line("services added", ch.Added)
	removed := make([]string, len(ch.Removed))
	for i, name := range ch.Removed {
		removed[i] = name
		if live[name] {
			removed[i] += " (live: reload refuses without --allow-remove)"
		}
	}
	line("services removed", removed)
	line("services changed", ch.Changed)
	line("applied", ch.Applied)
	if len(ch.Restart) > 0 {
		line("needs a restart", ch.Restart)
		b.WriteString("  (restart 'cutover serve' to apply these keys; until then the old values stay in effect)\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
