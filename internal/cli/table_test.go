package cli

import (
	"fmt"
	"strings"
	"testing"
)

func TestTableAlignsWithoutTrailingSpaces(t *testing.T) {
	tb := newTable()
	fmt.Fprintln(tb, "A\tBB\tC")
	fmt.Fprintln(tb, "aaaa\tb\t")
	var out strings.Builder
	if err := tb.flush(&out); err != nil {
		t.Fatal(err)
	}
	want := "A     BB  C\naaaa  b\n"
	if out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}
}
