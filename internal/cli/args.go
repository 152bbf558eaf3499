package cli

import (
	"strings"

	"github.com/spf13/cobra"
)

// noArgs refuses positional arguments.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, got %q", cmd.CommandPath(), strings.Join(args, " "))
	}
	return nil
}

// needArgs returns an Args validator for exactly the named arguments.
func needArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < len(names):
			return usagef("%s needs %s; missing %s", cmd.CommandPath(), strings.Join(names, " "),
				strings.Join(names[len(args):], " "))
		case len(args) > len(names):
			return usagef("%s takes %s, got extra %q", cmd.CommandPath(), strings.Join(names, " "),
				strings.Join(args[len(names):], " "))
		}
		return nil
	}
}

// maxArgs returns an Args validator for up to the named optional arguments.
func maxArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > len(names) {
			return usagef("%s takes at most [%s], got extra %q", cmd.CommandPath(), strings.Join(names, " "),
				strings.Join(args[len(names):], " "))
		}
		return nil
	}
}
