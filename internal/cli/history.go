package cli

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
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
back, from which version, when, how long it took and each step of it (start, health gate,
switch, drain, ...), how it ended and why.`,
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
	fmt.Fprintln(tw, "ID\tKIND\tVERSION\tFROM\tSTRATEGY\tSTARTED\tTOOK\tSTEPS\tOUTCOME\tREASON")
	for _, r := range recs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Kind, r.Version, dash(r.From),
			dash(r.Strategy), r.Start.In(a.loc).Format(time.DateTime), took(r), steps(r.Steps),
			outcomeWord(r.Outcome), r.Reason)
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
	return shortDuration(r.End.Sub(r.Start))
}

// stepOrder is the order steps happen in; others follow by name.
var stepOrder = []string{"start", "gate", "hook", "switch", "canary", "rolling", "drain", "watch", "standby",
	"retire", "rollback", "undo"}

// steps renders named step durations compactly: "gate 516ms, switch 214µs".
func steps(m map[string]time.Duration) string {
	if len(m) == 0 {
		return "-"
	}
	names := slices.Sorted(maps.Keys(m))
	slices.SortStableFunc(names, func(a, b string) int { return rank(a) - rank(b) })
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + " " + shortDuration(m[n])
	}
	return strings.Join(parts, ", ")
}

func rank(step string) int {
	if i := slices.Index(stepOrder, step); i >= 0 {
		return i
	}
	return len(stepOrder)
}

// shortDuration rounds d to about three significant digits.
func shortDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}

// outcomeWord spells an outcome for people.
func outcomeWord(o store.Outcome) string {
	if o == store.OutcomeRolledBack {
		return "rolled back"
	}
	return dash(o.String())
}
