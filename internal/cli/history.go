package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/cutover-dev/cutover/internal/store"
)

func (a *app) historyCmd() *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:     "history SERVICE",
		GroupID: groupInspect,
		Short:   "List the past deploys and rollbacks of a service",
		Long: `History lists the finished operations of SERVICE, newest first: what was deployed or rolled
back, from which version, when, how long it took, how it ended and why.`,
		Example: `  cutover history web
  cutover history web --limit 50 -o json`,
		Args: needArgs("SERVICE"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			if limit < 0 {
				return usagef("--limit must be 0 (all) or more, not %d", limit)
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			recs, err := c.History(cmd.Context(), args[0], limit)
			if err != nil {
				return err
			}
			if a.output == outputJSON {
				return printJSON(a.stdout, recs)
			}
			return a.renderHistory(a.stdout, recs)
		}),
	}
	cmd.Flags().IntVar(&limit, "limit", 20, "show at most this many records (0 = all)")
	a.addOutputFlag(cmd)
	return cmd
}

// renderHistory prints history records as a table.
func (a *app) renderHistory(w io.Writer, recs []store.HistoryRecord) error {
	if len(recs) == 0 {
		_, err := fmt.Fprintln(w, "No deploys yet.")
		return err
	}
	tw := newTable()
	fmt.Fprintln(tw, "ID\tKIND\tVERSION\tFROM\tSTRATEGY\tSTARTED\tTOOK\tOUTCOME\tREASON")
	for _, r := range recs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Kind, r.Version, dash(r.From),
			dash(r.Strategy), r.Start.In(a.loc).Format(time.DateTime), took(r), outcomeWord(r.Outcome), r.Reason)
	}
	return tw.flush(w)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func took(r store.HistoryRecord) string {
	if r.End.IsZero() || r.End.Before(r.Start) {
		return "-"
	}
	d := r.End.Sub(r.Start)
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}

// outcomeWord spells an outcome for people.
func outcomeWord(o string) string {
	if o == store.OutcomeRolledBack {
		return "rolled back"
	}
	return dash(o)
}
