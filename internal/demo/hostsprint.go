package demo

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cutover-dev/cutover/internal/deploy"
)

// fleetEvent prints one step of a fleet deploy as the coordinator reported
// it, in msg's words (JSON: the event as it came).
func (p *printer) fleetEvent(ev deploy.Event, msg string) {
	if p.json {
		p.emit(ev)
		return
	}
	label := ev.Step
	if ev.Type == deploy.EventWarn {
		msg = "warning: " + msg
	}
	fmt.Fprintf(p.w, "%s   %-8s %s\n", p.elapsed(), label, msg)
	if ev.Type == deploy.EventDone && ev.Error != "" && !strings.Contains(msg, ev.Error) {
		fmt.Fprintf(p.w, "             error: %s\n", ev.Error)
	}
	if out := strings.TrimRight(ev.Output, "\n"); out != "" && ev.Type == deploy.EventDone {
		fmt.Fprintf(p.w, "             the app's last output lines:\n")
		for line := range strings.SplitSeq(out, "\n") {
			fmt.Fprintf(p.w, "             | %s\n", line)
		}
	}
}

// fleetDetail is an event of the coordinating host's own controller: only
// JSON output shows it (the text shows the fleet's view).
func (p *printer) fleetDetail(ev deploy.Event, _ string) {
	if p.json {
		p.emit(ev)
	}
}

// mixedWindow prints how the load saw the flip.
func (p *printer) mixedWindow(f *FlipSummary, hosts []string) {
	if p.json {
		p.emit(map[string]any{"type": "mixed_window", "version": f.Version, "mixed_window_ns": f.MixedWindow, "per_host": f.PerHost})
		return
	}
	fmt.Fprintf(p.w, "%s load saw the flip: %s and %s answered side by side for %s (the mixed window)\n",
		p.elapsed(), f.From, f.Version, fmtDur(f.MixedWindow))
	for _, h := range hosts {
		hs := f.PerHost[h]
		fmt.Fprintf(p.w, "             %-3s last %s request sent %s, first %s response %s after the commit; %s after %s elsewhere: %s\n",
			h+":", f.From, fmtRel(hs.LastOld), f.Version, fmtRel(hs.FirstNew), f.From, f.Version, fmtDur(hs.Mixed))
	}
}

// fmtRel prints a signed offset in ms.
func fmtRel(d time.Duration) string {
	return fmt.Sprintf("%+.1f ms", float64(d)/float64(time.Millisecond))
}

// fmtDur prints a duration in ms with 0.1 ms resolution.
func fmtDur(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

func (p *printer) hostsSummary(s HostsSummary) {
	if p.json {
		p.emit(map[string]any{"type": "summary", "summary": s})
		return
	}
	n := len(s.Hosts)
	fmt.Fprintf(p.w, "\nSummary (%s, %d hosts; %s)\n", s.Duration.Round(100*time.Millisecond), n, s.Coordination)
	fmt.Fprintf(p.w, "  requests:  %d through all %d hosts\n", s.Requests, n)
	fmt.Fprintf(p.w, "  failed:    %d\n", s.Failed)
	for _, h := range s.Hosts {
		var parts []string
		vs := make([]string, 0, len(s.PerHost[h]))
		for v := range s.PerHost[h] {
			vs = append(vs, v)
		}
		slices.Sort(vs)
		for _, v := range vs {
			parts = append(parts, fmt.Sprintf("%s %d", v, s.PerHost[h][v]))
		}
		fmt.Fprintf(p.w, "  %-3s served %s\n", h+":", strings.Join(parts, ", "))
	}
	f := s.Flip
	if f.Version != "" {
		fmt.Fprintf(p.w, "  %s → %s: %s; prepared %d/%d → %d commit (revision %d) → switched %d/%d, the last host %s after the commit; mixed window seen by the load %s\n",
			f.From, f.Version, f.Outcome, len(f.Prepared), n, f.Commits, f.Revision, len(f.Switched), n, fmtDur(f.LastSwitch), fmtDur(f.MixedWindow))
	}
	a := s.Abort
	if a.Version != "" {
		fmt.Fprintf(p.w, "  %s (unhealthy on %s): %s, prepared on %d/%d, no host switched; responses from %s: %d; %s instances left: %d; every host serves %s\n",
			a.Version, a.UnhealthyOn, a.Outcome, len(a.Prepared), n, a.Version, a.Served, a.Version, sumLeft(a.Left), servingList(a.ServingAfter))
	}
	for _, e := range s.Errors {
		fmt.Fprintf(p.w, "  error: %s\n", e)
	}
	if s.Failed == 0 && checkHosts(s) == nil {
		fmt.Fprintf(p.w, "Zero failed requests; every host switched at one commit, or none did.\n")
	}
}
