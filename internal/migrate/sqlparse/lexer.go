package sqlparse

import (
	"strings"
)

// span is a byte range [start, end) of a file.
type span struct{ start, end int }

// scan walks src as the dialect's lexer would, only far enough to find its
// comments and where its statements end: at the delimiter (";", or what a
// MySQL client DELIMITER line sets), outside quotes, comments and
// PostgreSQL dollar quotes, and not between goose's StatementBegin and
// StatementEnd annotations. Statements are trimmed of surrounding space
// and leading comments.
func scan(d Dialect, src string) (stmts []span, comments []Comment) {
	stmts, comments, _ = scanEnd(d, src)
	return stmts, comments
}

// scanEnd is scan; unterminated is the offset of a quote or comment that
// runs to the end of src, -1 when there is none.
func scanEnd(d Dialect, src string) (stmts []span, comments []Comment, unterminated int) {
	unterminated = -1
	// closed(from)(end, ok) notes a quote or comment at from that is not
	// closed, and returns end.
	closed := func(from int) func(int, bool) int {
		return func(end int, ok bool) int {
			if !ok && unterminated < 0 {
				unterminated = from
			}
			return end
		}
	}
	my := d.IsMySQL()
	delim := ";"
	start := -1 // first byte of the statement being read, -1 between statements
	inBlock := false
	lines := newLineIndex(src)
	flush := func(end int) {
		if start >= 0 {
			e := end
			for e > start && isSpace(src[e-1]) {
				e--
			}
			stmts = append(stmts, span{start, e})
		}
		start = -1
	}
	for i := 0; i < len(src); {
		c := src[i]
		if my && start < 0 && (c == 'd' || c == 'D') && hasPrefixFold(src[i:], "delimiter") &&
			i+9 < len(src) && (src[i+9] == ' ' || src[i+9] == '\t') && atLineStart(src, i) {
			eol := lineEnd(src, i)
			if nd := strings.TrimSpace(src[i+9 : eol]); nd != "" {
				delim = nd
			}
			i = eol
			continue
		}
		switch {
		case isSpace(c):
			i++
			continue
		case c == '-' && strings.HasPrefix(src[i:], "--") && (!my || i+2 >= len(src) || isSpace(src[i+2]) || src[i+2] < ' '),
			my && c == '#':
			eol := lineEnd(src, i)
			mark := 2
			if c == '#' {
				mark = 1
			}
			text := strings.TrimSpace(src[i+mark : eol])
			comments = append(comments, Comment{Offset: i, Line: lines.line(i), Text: text})
			switch strings.ToLower(text) {
			case "+goose statementbegin":
				flush(i)
				inBlock = true
			case "+goose statementend":
				flush(i)
				inBlock = false
			}
			i = eol
			continue
		case c == '/' && strings.HasPrefix(src[i:], "/*") && !(my && i+2 < len(src) && (src[i+2] == '!' || src[i+2] == '+')):
			end := closed(i)(blockCommentEnd(src, i, !my))
			comments = append(comments, Comment{Offset: i, Line: lines.line(i), Text: strings.TrimSpace(strings.TrimSuffix(src[i+2:end], "*/"))})
			i = end
			continue
		}
		if !inBlock && strings.HasPrefix(src[i:], delim) {
			flush(i)
			i += len(delim)
			continue
		}
		if start < 0 {
			start = i
		}
		switch {
		case c == '\'':
			i = closed(i)(quotedEnd(src, i, '\'', my || isEString(src, i)))
		case c == '"':
			i = closed(i)(quotedEnd(src, i, '"', my))
		case my && c == '`':
			i = closed(i)(quotedEnd(src, i, '`', false))
		case !my && c == '$':
			i = closed(i)(dollarQuoteEnd(src, i))
		case c == '/' && strings.HasPrefix(src[i:], "/*"): // MySQL /*! ... */ runs as code
			i = closed(i)(blockCommentEnd(src, i, false))
		default:
			i++
		}
	}
	flush(len(src))
	return stmts, comments, unterminated
}

// quotedEnd returns the offset after the quoted text that starts at i with
// quote q, and false with len(src) when it is not closed; a doubled quote
// stands for itself, and backslash escapes the next byte when backslash is set.
func quotedEnd(src string, i int, q byte, backslash bool) (int, bool) {
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case '\\':
			if backslash {
				j++
			}
		case q:
			if j+1 < len(src) && src[j+1] == q {
				j++
				continue
			}
			return j + 1, true
		}
	}
	return len(src), false
}

// isEString reports whether the quote at i opens a PostgreSQL E'...' string.
func isEString(src string, i int) bool {
	return i > 0 && (src[i-1] == 'e' || src[i-1] == 'E') && (i == 1 || !isIdent(src[i-2]))
}

// dollarQuoteEnd returns the offset after a PostgreSQL $tag$...$tag$ string
// starting at i, or i+1 when the $ opens none (a parameter like $1), and
// false with len(src) when the string is not closed.
func dollarQuoteEnd(src string, i int) (int, bool) {
	if i > 0 && isIdent(src[i-1]) {
		return i + 1, true
	}
	j := i + 1
	for j < len(src) && isIdent(src[j]) {
		if j == i+1 && src[j] >= '0' && src[j] <= '9' {
			return i + 1, true
		}
		j++
	}
	if j >= len(src) || src[j] != '$' {
		return i + 1, true
	}
	tag := src[i : j+1]
	if k := strings.Index(src[j+1:], tag); k >= 0 {
		return j + 1 + k + len(tag), true
	}
	return len(src), false
}

// blockCommentEnd returns the offset after the /* comment at i, and false
// with len(src) when it is not closed; PostgreSQL's comments nest.
func blockCommentEnd(src string, i int, nested bool) (int, bool) {
	depth := 0
	for j := i; j+1 < len(src); j++ {
		switch {
		case src[j] == '/' && src[j+1] == '*' && (nested || depth == 0):
			depth++
			j++
		case src[j] == '*' && src[j+1] == '/':
			depth--
			j++
			if depth == 0 {
				return j + 1, true
			}
		}
	}
	return len(src), false
}

func lineEnd(src string, i int) int {
	if k := strings.IndexByte(src[i:], '\n'); k >= 0 {
		return i + k
	}
	return len(src)
}

func atLineStart(src string, i int) bool {
	for j := i - 1; j >= 0; j-- {
		switch src[j] {
		case '\n':
			return true
		case ' ', '\t', '\r':
			continue
		}
		return false
	}
	return true
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// lineIndex maps byte offsets to 1-based line numbers.
type lineIndex []int

func newLineIndex(src string) lineIndex {
	idx := lineIndex{0}
	for i := 0; i < len(src); i++ {
		if src[i] == '\n' {
			idx = append(idx, i+1)
		}
	}
	return idx
}

// line returns the 1-based line of offset off.
func (l lineIndex) line(off int) int {
	lo, hi := 0, len(l)
	for lo+1 < hi {
		m := (lo + hi) / 2
		if l[m] <= off {
			lo = m
		} else {
			hi = m
		}
	}
	return lo + 1
}

// skipLeading returns the offset of the first byte of src[start:end] that
// is neither space nor part of a comment.
func skipLeading(d Dialect, src string, start, end int) int {
	my := d.IsMySQL()
	i := start
	for i < end {
		switch {
		case isSpace(src[i]):
			i++
		case strings.HasPrefix(src[i:], "--") && (!my || i+2 >= len(src) || isSpace(src[i+2])), my && src[i] == '#':
			i = lineEnd(src, i)
		case strings.HasPrefix(src[i:], "/*") && !(my && i+2 < len(src) && (src[i+2] == '!' || src[i+2] == '+')):
			i, _ = blockCommentEnd(src, i, !my)
		default:
			return i
		}
	}
	return end
}
