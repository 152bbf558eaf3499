package cli

import (
	"github.com/spf13/cobra"

	"github.com/cutover-dev/cutover/internal/sampleapp"
)

// sampleAppCmd runs the sample app used by the demo and tests. Its flags are
// the sample app's own, so cutover does not parse them.
func (a *app) sampleAppCmd() *cobra.Command {
	return &cobra.Command{
		Use:                "sample-app [FLAGS]",
		Short:              "Run the sample HTTP app used by the demo and tests",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: runE(func(_ *cobra.Command, args []string) error {
			if code := sampleapp.Main(args); code != 0 {
				return &exitError{code: code}
			}
			return nil
		}),
	}
}
