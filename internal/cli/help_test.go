package cli

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestHelpGolden(t *testing.T) {
	tests := []struct{ name, args string }{
		{"help_root", "--help"},
		{"help_deploy", "deploy --help"},
		{"help_lint_sql", "lint-sql --help"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h *harness
			r := h.run(t, strings.Fields(tt.args)...)
			if r.code != ExitOK || r.stderr != "" {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			golden(t, tt.name, r.stdout)
		})
	}
}

func TestRootHelpListsEveryExitCode(t *testing.T) {
	var h *harness
	out := h.run(t, "--help").stdout
	for _, e := range exitCodeTable {
		if !strings.Contains(out, e.meaning) {
			t.Errorf("help lacks exit code %d (%s)", e.code, e.meaning)
		}
	}
}

func TestEveryCommandTeaches(t *testing.T) {
	root := (&app{}).newRoot()
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			if sub.Short == "" || sub.Long == "" || sub.Example == "" {
				t.Errorf("%s lacks Short, Long or Example", sub.CommandPath())
			}
			if !strings.Contains(sub.Example, "cutover "+sub.Name()) && !strings.Contains(sub.Example, sub.CommandPath()) {
				t.Errorf("%s examples do not show the command", sub.CommandPath())
			}
			walk(sub)
		}
	}
	walk(root)
}

func TestNoArgsPrintsHelp(t *testing.T) {
	var h *harness
	r := h.run(t)
	if r.code != ExitOK || !strings.Contains(r.stdout, "Usage:") {
		t.Fatalf("exit %d, stdout %q", r.code, r.stdout)
	}
}
