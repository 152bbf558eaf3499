package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cutover-dev/cutover/internal/api"
	"github.com/cutover-dev/cutover/internal/fleet"
)

func (a *app) hostsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "hosts",
		GroupID: groupInspect,
		Short:   "Show the hosts of the fleet",
		Long: `Hosts lists every host of this server's fleet as the server sees it:
  HOST       the host's name (cluster.name), READY whether its load-balancer ready
             endpoint (` + fleet.ReadyPath + `) answers 200, and why not
  SERVICES   the version each service serves there, and the revision of the commit it applied
  SINCE      when its cutover registered
A host named by a running deploy whose lease expired is shown as LOST.
With a single host and no cluster block, the fleet is that one host.`,
		Example: `  cutover hosts
  cutover hosts -o json
  cutover hosts remove web-3     # after decommissioning web-3`,
		Args: maxArgs(""),
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			st, err := c.Fleet(cmd.Context())
			if err != nil {
				return err
			}
			if a.output == outputJSON {
				return printJSON(a.stdout, st)
			}
			return a.renderHosts(a.stdout, st)
		}),
	}
	a.addOutputFlag(cmd)
	cmd.AddCommand(a.hostsRemoveCmd())
	return cmd
}

func (a *app) hostsRemoveCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "remove HOST",
		Short: "Take a host out of the fleet",
		Long: `Remove deletes HOST's registration so that deploys stop waiting for it. Stop cutover on
that host first (systemctl stop cutover): a host that is still running registers again.`,
		Example: `  ssh web-3 systemctl stop cutover
  cutover hosts remove web-3`,
		Args: needArgs("HOST"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if err := c.RemoveHost(cmd.Context(), args[0]); err != nil {
				return err
			}
			if a.output == outputJSON {
				return printJSON(a.stdout, map[string]any{"removed": args[0]})
			}
			_, err = fmt.Fprintf(a.stdout, "Removed %s from the fleet.\n", args[0])
			return err
		}),
	}
	a.addOutputFlag(cmd)
	return cmd
}

// renderHosts prints the hosts table.
func (a *app) renderHosts(w io.Writer, st fleet.Status) error {
	tw := newTable()
	fmt.Fprintln(tw, "HOST\tREADY\tSERVICES\tSINCE")
	for _, h := range st.Hosts {
		ready := "yes"
		switch {
		case h.Lost:
			ready = "LOST"
		case !h.Ready:
			ready = "no"
		}
		if h.Reason != "" {
			ready += " (" + h.Reason + ")"
		}
		var svcs []string
		for _, name := range slices.Sorted(maps.Keys(h.Services)) {
			ap := h.Services[name]
			svcs = append(svcs, fmt.Sprintf("%s=%s@%d", name, ap.Version, ap.Rev))
		}
		since := "-"
		if !h.Since.IsZero() {
			since = a.now().Sub(h.Since).Round(time.Second).String() + " ago"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", h.Name, ready, orDash(strings.Join(svcs, " ")), since)
	}
	if err := tw.flush(w); err != nil {
		return err
	}
	for _, d := range st.Deploys {
		fmt.Fprintf(w, "\n%s %s of %s %s (from %s, coordinated by %s): prepared %d/%d, switched %d/%d\n",
			d.Phase, d.Kind, d.Service, d.Version, orDash(d.From), d.Coordinator,
			len(d.Prepared), len(d.Hosts), len(d.Switched), len(d.Hosts))
		if len(d.Failed) > 0 {
			fmt.Fprintf(w, "  failed on: %s\n", strings.Join(d.Failed, ", "))
		}
		if c := d.Canary; c != nil {
			paused := ""
			if c.Paused {
				paused = " (paused)"
			}
			fmt.Fprintf(w, "  canary step %d/%d at %g%% on every host%s\n", c.Step, c.Of, c.Weight, paused)
			for _, h := range d.Hosts {
				ch, ok := d.CanaryHosts[h]
				if !ok {
					fmt.Fprintf(w, "    %s: no numbers (not taking part)\n", h)
					continue
				}
				sick := ""
				if ch.Unhealthy != "" {
					sick = ", unhealthy " + ch.Unhealthy
				}
				fmt.Fprintf(w, "    %s: %g%%, canary %d requests (%d errors), baseline %d (%d errors)%s\n", h, ch.Weight,
					ch.CanaryRequests, ch.CanaryErrors, ch.BaselineRequests, ch.BaselineErrors, sick)
			}
		}
		if b := d.Batch; b != nil {
			state := "preparing"
			if b.Committed {
				state = "switching"
			}
			fmt.Fprintf(w, "  rolling batch %d/%d %s on %s\n", b.Index+1, b.Of, state, strings.Join(b.Hosts, ", "))
		}
	}
	return nil
}

// fleetSection prints the hosts below the status table when the server is
// part of a fleet of more than one host, or a fleet deploy runs.
func (a *app) fleetSection(ctx context.Context, c *api.Client, w io.Writer) error {
	st, err := c.Fleet(ctx)
	var ae *api.Error
	if errors.As(err, &ae) && ae.Status == 404 {
		return nil // not a fleet member
	}
	if err != nil {
		return err
	}
	if len(st.Hosts) < 2 && len(st.Deploys) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	return a.renderHosts(w, st)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
