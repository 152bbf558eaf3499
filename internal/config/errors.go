package config

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrInvalid is matched (with errors.Is) by every Errors value, so callers can
// tell a bad config apart from an unreadable file.
var ErrInvalid = errors.New("invalid config")

// Error is one problem in a config file. Its text has the form
// "file:line: field.path: problem; fix".
type Error struct {
	// File is the config file's path ("" when the config was built in code).
	File string
	// Line and Column locate the offending key or value (0 when unknown).
	Line, Column int
	// Path is the dotted field path, e.g. "services.web.process.command".
	Path string
	// Msg states the problem.
	Msg string
	// Fix says how to correct it ("" when there is nothing more to say).
	Fix string
}

// Error formats e as "file:line: field.path: problem; fix", leaving out the
// parts that are unknown.
func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		b.WriteString(e.File + ": ")
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Msg)
	if e.Fix != "" {
		b.WriteString("; " + e.Fix)
	}
	return b.String()
}

// Errors is every problem found in one config, in file order. It is returned
// as an error by Load, Parse and Validate only when it is not empty.
type Errors []*Error

// Error returns one line per entry.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Is reports whether target is ErrInvalid.
func (es Errors) Is(target error) bool { return target == ErrInvalid }

// sortByLine orders es by line, keeping the order of entries on one line.
// Entries without a line come first.
func (es Errors) sortByLine() {
	sort.SliceStable(es, func(i, j int) bool { return es[i].Line < es[j].Line })
}

// orNil returns es as an error, or nil when it is empty.
func (es Errors) orNil() error {
	if len(es) == 0 {
		return nil
	}
	return es
}
