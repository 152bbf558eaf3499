package cli

import (
	"bytes"
	"io"
	"strings"
	"text/tabwriter"
)

// table lays out tab-separated rows in aligned columns, without trailing
// spaces. Write rows with fmt.Fprintf(t, "a\tb\n"), then call flush.
type table struct {
	buf bytes.Buffer
	tw  *tabwriter.Writer
}

func newTable() *table {
	t := &table{}
	t.tw = tabwriter.NewWriter(&t.buf, 0, 0, 2, ' ', 0)
	return t
}

// Write adds row text.
func (t *table) Write(p []byte) (int, error) { return t.tw.Write(p) }

// flush writes the laid-out table to w.
func (t *table) flush(w io.Writer) error {
	if err := t.tw.Flush(); err != nil {
		return err
	}
	var out strings.Builder
	for line := range strings.Lines(t.buf.String()) {
		out.WriteString(strings.TrimRight(line, " \n"))
		out.WriteByte('\n')
	}
	_, err := io.WriteString(w, out.String())
	return err
}
