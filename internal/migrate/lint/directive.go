package lint

import (
	"fmt"
	"strings"

	"github.com/cutover-dev/cutover/internal/migrate/sqlparse"
)

// Phases of a migration file.
const (
	PhaseExpand   = "expand"
	PhaseContract = "contract"
)

// directivePrefix starts every comment the lint reads.
const directivePrefix = "cutover:"

// directive is one cutover: comment of a file.
type directive struct {
	line   int
	offset int
	// phase is set for cutover:phase.
	phase string
	// rules and reason are set for cutover:allow.
	rules  []string
	reason string
	// err says why the comment cannot be read.
	err error
}

// readDirectives finds the cutover: comments among comments.
func readDirectives(comments []sqlparse.Comment) []directive {
	var out []directive
	for _, c := range comments {
		if !strings.HasPrefix(c.Text, directivePrefix) {
			continue
		}
		d := parseDirective(strings.TrimPrefix(c.Text, directivePrefix))
		d.line, d.offset = c.Line, c.Offset
		out = append(out, d)
	}
	return out
}

// parseDirective reads the text after "cutover:".
func parseDirective(s string) directive {
	word, rest, _ := strings.Cut(strings.TrimSpace(s), " ")
	rest = strings.TrimSpace(rest)
	switch word {
	case "phase":
		switch rest {
		case PhaseExpand, PhaseContract:
			return directive{phase: rest}
		}
		return directive{err: fmt.Errorf("unknown phase %q; use cutover:phase contract (or expand)", rest)}
	case "allow":
		return parseAllow(rest)
	}
	return directive{err: fmt.Errorf("unknown directive cutover:%s; use cutover:phase or cutover:allow", word)}
}

// parseAllow reads `RULE[,RULE...] reason="..."`.
func parseAllow(s string) directive {
	list, rest, _ := strings.Cut(s, " ")
	if list == "" {
		return directive{err: fmt.Errorf(`cutover:allow names no rule; write cutover:allow RULE reason="..."`)}
	}
	var d directive
	for _, id := range strings.Split(list, ",") {
		if _, ok := RuleByID(id); !ok {
			return directive{err: fmt.Errorf("cutover:allow names unknown rule %q", id)}
		}
		d.rules = append(d.rules, id)
	}
	rest = strings.TrimSpace(rest)
	val, ok := strings.CutPrefix(rest, "reason=")
	if !ok || len(val) < 2 || (val[0] != '"' && val[0] != '\'') {
		return directive{err: fmt.Errorf(`cutover:allow %s has no reason; add reason="why it is safe"`, list)}
	}
	end := strings.IndexByte(val[1:], val[0])
	if end < 0 {
		return directive{err: fmt.Errorf("cutover:allow %s: the reason's quote is not closed", list)}
	}
	d.reason = strings.TrimSpace(val[1 : 1+end])
	if d.reason == "" {
		return directive{err: fmt.Errorf(`cutover:allow %s has an empty reason`, list)}
	}
	return d
}
