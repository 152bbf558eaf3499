package lint

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Summary is one line that counts files, statements and findings.
func (r *Result) Summary() string {
	linted := 0
	for _, f := range r.Files {
		if f.Skipped == "" {
			linted++
		}
	}
	head := fmt.Sprintf("%s, %d %s", describeFiles(linted), r.Statements(), plural(r.Statements(), "statement"))
	var parts []string
	for _, c := range []struct {
		n    int
		noun string
	}{
		{r.Count(SeverityError), "error"}, {r.Count(SeverityWarning), "warning"},
		{r.Count(SeverityInfo), "note"}, {r.Allowed(), "allowed"},
	} {
		if c.n > 0 {
			noun := c.noun
			if noun != "allowed" {
				noun = plural(c.n, noun)
			}
			parts = append(parts, fmt.Sprintf("%d %s", c.n, noun))
		}
	}
	if len(parts) == 0 {
		return head + ": no findings"
	}
	return head + ": " + strings.Join(parts, ", ")
}

func plural(n int, noun string) string {
	if n == 1 {
		return noun
	}
	return noun + "s"
}

// WriteText writes the findings for a terminal: file:line, severity, rule
// and message, then the statement, why it breaks and the recipe; allowed
// findings on one line with their reason; then the summary.
func WriteText(w io.Writer, r *Result) error {
	var b strings.Builder
	for _, f := range r.Findings {
		if f.Allowed != nil {
			fmt.Fprintf(&b, "%s:%d: allowed[%s] %s\n    reason: %s (%s)\n", f.File, f.Line, f.Rule, f.Message, f.Allowed.Reason, overrideSource(f.Allowed))
			continue
		}
		fmt.Fprintf(&b, "%s:%d: %s[%s] %s\n", f.File, f.Line, f.Severity, f.Rule, f.Message)
		if f.Statement != "" {
			fmt.Fprintf(&b, "    %s\n", f.Statement)
		}
		fmt.Fprintf(&b, "    why: %s\n    fix: %s\n", f.Why, f.Recipe)
	}
	for _, f := range r.Files {
		if f.Skipped != "" {
			fmt.Fprintf(&b, "%s: skipped (%s)\n", f.Path, f.Skipped)
		}
	}
	b.WriteString(r.Summary() + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func overrideSource(o *Override) string {
	if o.Source == SourceInline {
		return fmt.Sprintf("cutover:allow at line %d", o.Line)
	}
	return "--allow " + o.Rule
}

// jsonReport is the document WriteJSON writes.
type jsonReport struct {
	OK        bool         `json:"ok"`
	Summary   string       `json:"summary"`
	Errors    int          `json:"errors"`
	Warnings  int          `json:"warnings"`
	Notes     int          `json:"notes"`
	Allowed   int          `json:"allowed"`
	Files     []FileResult `json:"files"`
	Findings  []Finding    `json:"findings"`
	Overrides []Override   `json:"overrides"`
}

// WriteJSON writes the result as one indented JSON document; ok is false
// when a finding fails the lint.
func WriteJSON(w io.Writer, r *Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(jsonReport{
		OK: !r.Failed(), Summary: r.Summary(),
		Errors: r.Count(SeverityError), Warnings: r.Count(SeverityWarning), Notes: r.Count(SeverityInfo), Allowed: r.Allowed(),
		Files: r.Files, Findings: r.Findings, Overrides: r.Overrides,
	})
}

// WriteGitHub writes GitHub Actions workflow commands, one annotation per
// finding (::error, ::warning, ::notice for notes and allowed findings),
// then the summary as a plain line.
func WriteGitHub(w io.Writer, r *Result) error {
	var b strings.Builder
	for _, f := range r.Findings {
		level := map[Severity]string{SeverityError: "error", SeverityWarning: "warning", SeverityInfo: "notice"}[f.Severity]
		msg := fmt.Sprintf("%s\nWhy: %s\nFix: %s", f.Message, f.Why, f.Recipe)
		if f.Allowed != nil {
			level = "notice"
			msg = fmt.Sprintf("allowed: %s\nReason: %s (%s)", f.Message, f.Allowed.Reason, overrideSource(f.Allowed))
		}
		fmt.Fprintf(&b, "::%s file=%s,line=%d,title=%s::%s\n", level, ghProperty(f.File), f.Line,
			ghProperty("cutover "+f.Rule), ghData(msg))
	}
	b.WriteString(r.Summary() + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// ghData escapes a workflow command's message.
func ghData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// ghProperty escapes a workflow command's property value.
func ghProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
