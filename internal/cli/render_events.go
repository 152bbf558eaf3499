package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cutover-dev/cutover/internal/deploy"
	"github.com/cutover-dev/cutover/internal/store"
)

// eventPrinter renders deploy events as they arrive: one JSON object per
// line, or text lines. Text for one operation reads
//
//	[  1.2s] gate     v2 healthy after 3 probes
//
// and, when following many operations, starts with the time of day and the
// service instead of the elapsed time.
type eventPrinter struct {
	w    io.Writer
	json bool
	// many selects the time-of-day and service columns.
	many bool
	loc  *time.Location
}

// print renders one event.
func (p *eventPrinter) print(ev deploy.Event) error {
	if p.json {
		b, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("encode event: %w", err)
		}
		_, err = fmt.Fprintf(p.w, "%s\n", b)
		return err
	}
	var prefix string
	if p.many {
		prefix = fmt.Sprintf("%s %-12s ", ev.Time.In(p.loc).Format("15:04:05"), ev.Service)
	} else {
		prefix = fmt.Sprintf("[%5.1fs] ", ev.Elapsed.Seconds())
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s%-8s %s\n", prefix, label(ev), message(ev))
	indent := strings.Repeat(" ", len(prefix))
	if ev.Error != "" && !strings.Contains(ev.Message, ev.Error) {
		fmt.Fprintf(&b, "%serror: %s\n", indent, ev.Error)
	}
	if out := strings.TrimRight(ev.Output, "\n"); out != "" {
		fmt.Fprintf(&b, "%soutput:\n", indent)
		for line := range strings.SplitSeq(out, "\n") {
			fmt.Fprintf(&b, "%s| %s\n", indent, line)
		}
	}
	_, err := io.WriteString(p.w, b.String())
	return err
}

// label is the short word in the step column.
func label(ev deploy.Event) string {
	switch {
	case ev.Step != "":
		return ev.Step
	case ev.Type == deploy.EventWarn:
		return "warning"
	case ev.Type == deploy.EventDone:
		return "done"
	}
	return ""
}

// message is the event's sentence, or for a bare EventDone its outcome.
func message(ev deploy.Event) string {
	if ev.Message != "" || ev.Type != deploy.EventDone {
		return ev.Message
	}
	switch ev.Outcome {
	case store.OutcomeDeployed:
		return "done"
	case store.OutcomeRolledBack:
		return "rolled back"
	case store.OutcomeAborted:
		return "aborted; traffic unchanged"
	}
	return "failed; traffic unchanged"
}
