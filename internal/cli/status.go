package cli

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/cutover-dev/cutover/internal/deploy"
)

func (a *app) statusCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "status [SERVICE]",
		GroupID: groupInspect,
		Short:   "Show what each service runs and what is in progress",
		Long: `Status shows, for every service (or just SERVICE):
  ACTIVE     the version receiving traffic, HEALTHY its healthy/total instances
  CANDIDATE  a canary version and the share of traffic it receives
  STANDBY    the previous version kept warm for rollback, and how long it stays
  OPERATION  the deploy or rollback in progress, its phase and how long it has run
In a fleet of several hosts it then lists the hosts (see cutover hosts).
With SERVICE it also lists every instance, and for a canary the live comparison of the
canary with the baseline (requests, error rate, latency) and the current verdict.`,
		Example: `  cutover status
  cutover status web
  cutover status web -o json`,
		Args: maxArgs("SERVICE"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if len(args) == 0 {
				all, err := c.StatusAll(cmd.Context())
				if err != nil {
					return err
				}
				if a.output == outputJSON {
					return printJSON(a.stdout, all)
				}
				if err := a.renderStatus(a.stdout, all, false); err != nil {
					return err
				}
				return a.fleetSection(cmd.Context(), c, a.stdout)
			}
			st, err := c.Status(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.output == outputJSON {
				return printJSON(a.stdout, st)
			}
			return a.renderStatus(a.stdout, []deploy.ServiceStatus{st}, true)
		}),
	}
	a.addOutputFlag(cmd)
	return cmd
}

// renderStatus prints the services table, then canary comparisons, then
// (with detail) each service's instances.
func (a *app) renderStatus(w io.Writer, all []deploy.ServiceStatus, detail bool) error {
	if len(all) == 0 {
		_, err := fmt.Fprintln(w, "No services configured.")
		return err
	}
	tw := newTable()
	fmt.Fprintln(tw, "SERVICE\tACTIVE\tHEALTHY\tCANDIDATE\tSTANDBY\tOPERATION")
	for _, s := range all {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, releaseVersion(s.Active), healthy(s.Active),
			candidate(s), a.standby(s), a.operationCell(s))
	}
	if err := tw.flush(w); err != nil {
		return err
	}
	for _, s := range all {
		for _, r := range s.Retiring {
			fmt.Fprintf(w, "%s: %s retiring in the background (%d instance(s), %s), stopped by %s at the latest\n",
				s.Name, r.Version, len(r.Instances), dash(r.Reason), r.By.In(a.loc).Format(time.TimeOnly))
		}
	}
	for _, s := range all {
		if s.Canary != nil {
			fmt.Fprintln(w)
			renderCanary(w, s)
		}
	}
	if detail {
		for _, s := range all {
			fmt.Fprintln(w)
			renderInstances(w, s)
		}
	}
	return nil
}

func releaseVersion(r *deploy.ReleaseStatus) string {
	if r == nil {
		return "-"
	}
	return r.Version
}

func healthy(r *deploy.ReleaseStatus) string {
	if r == nil {
		return "-"
	}
	n := 0
	for _, in := range r.Instances {
		if in.Healthy {
			n++
		}
	}
	return fmt.Sprintf("%d/%d", n, len(r.Instances))
}

func candidate(s deploy.ServiceStatus) string {
	if s.Candidate == nil {
		return "-"
	}
	c := s.Candidate.Version + " @ " + percent(s.Weight)
	if s.Op != nil && s.Op.Paused {
		c += " (paused)"
	}
	return c
}

func (a *app) standby(s deploy.ServiceStatus) string {
	if s.Standby == nil {
		return "-"
	}
	if s.StandbyUntil.IsZero() {
		return s.Standby.Version
	}
	left := s.StandbyUntil.Sub(a.now())
	if left <= 0 {
		return s.Standby.Version + " (retiring)"
	}
	return s.Standby.Version + " (" + left.Round(time.Second).String() + " left)"
}

func (a *app) operationCell(s deploy.ServiceStatus) string {
	switch {
	case s.Error != "":
		return "error: " + s.Error
	case s.Op == nil:
		return "-"
	}
	op := s.Op
	cell := op.Kind.String() + " " + op.Version + ": " + string(op.Phase)
	if op.Step > 0 {
		cell += " step " + strconv.Itoa(op.Step)
	}
	if op.Paused {
		cell += ", paused"
	}
	if !op.StartedAt.IsZero() && a.now().After(op.StartedAt) {
		cell += " (" + a.now().Sub(op.StartedAt).Round(time.Second).String() + ")"
	}
	return cell
}

func percent(p float64) string {
	return strconv.FormatFloat(p, 'f', -1, 64) + "%"
}

// renderCanary prints the live comparison of a canary with its baseline.
func renderCanary(w io.Writer, s deploy.ServiceStatus) {
	cmp := s.Canary
	line := fmt.Sprintf("%s canary %s vs %s: %s", s.Name, releaseVersion(s.Candidate), releaseVersion(s.Active), cmp.Verdict)
	if cmp.Reason != "" {
		line += " (" + cmp.Reason + ")"
	}
	fmt.Fprintln(w, line)
	if len(cmp.Summary) == 0 {
		return
	}
	tw := newTable()
	fmt.Fprintln(tw, "  VERSION\tREQUESTS\tERROR RATE\tP50\tP99")
	for _, v := range summaryOrder(s) {
		m := cmp.Summary[v]
		fmt.Fprintf(tw, "  %s\t%d\t%.2f%%\t%s\t%s\n", v, int64(m["requests"]), m["error_rate"]*100,
			millis(m["p50_ms"]), millis(m["p99_ms"]))
	}
	_ = tw.flush(w)
}

// summaryOrder lists the versions of a canary summary: baseline (active)
// first, then the candidate, then any other key in name order.
func summaryOrder(s deploy.ServiceStatus) []string {
	var first []string
	for _, v := range []string{releaseVersion(s.Active), releaseVersion(s.Candidate)} {
		if _, ok := s.Canary.Summary[v]; ok && !slices.Contains(first, v) {
			first = append(first, v)
		}
	}
	for _, v := range slices.Sorted(maps.Keys(s.Canary.Summary)) {
		if !slices.Contains(first, v) {
			first = append(first, v)
		}
	}
	return first
}

func millis(ms float64) string {
	return (time.Duration(ms * float64(time.Millisecond))).Round(100 * time.Microsecond).String()
}

// renderInstances prints every instance of a service with its role.
func renderInstances(w io.Writer, s deploy.ServiceStatus) {
	fmt.Fprintf(w, "%s: strategy %s, runtime %s\n", s.Name, s.Strategy, s.Runtime)
	tw := newTable()
	fmt.Fprintln(tw, "  ROLE\tVERSION\tINSTANCE\tADDRESS\tPID\tHEALTHY\tIN-FLIGHT\tLOG")
	rows := 0
	for _, r := range []struct {
		role string
		rel  *deploy.ReleaseStatus
	}{{"active", s.Active}, {"candidate", s.Candidate}, {"standby", s.Standby}} {
		rows += renderRole(tw, r.role, r.rel)
	}
	for _, r := range s.Retiring {
		rows += renderRole(tw, "retiring", &r.ReleaseStatus)
	}
	if rows == 0 {
		fmt.Fprintln(tw, "  (no instances)")
	}
	_ = tw.flush(w)
}

// renderRole prints the instances of one release and returns how many.
func renderRole(tw *table, role string, rel *deploy.ReleaseStatus) int {
	if rel == nil {
		return 0
	}
	for _, in := range rel.Instances {
		pid := "-"
		if in.PID > 0 {
			pid = strconv.Itoa(in.PID)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", role, rel.Version, in.ID, in.Addr, pid,
			yesNo(in.Healthy), in.InFlight, dash(in.LogPath))
	}
	return len(rel.Instances)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
