package cli

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// outputFormat is the value of the -o flag.
type outputFormat string

// Output formats.
const (
	outputText outputFormat = "text"
	outputJSON outputFormat = "json"
)

// String returns the format name.
func (o *outputFormat) String() string {
	if *o == "" {
		return string(outputText)
	}
	return string(*o)
}

// Set parses a format name.
func (o *outputFormat) Set(v string) error {
	switch outputFormat(v) {
	case outputText, outputJSON:
		*o = outputFormat(v)
		return nil
	}
	return fmt.Errorf("unknown output format %q; use text or json", v)
}

// Type names the flag's value in help.
func (o *outputFormat) Type() string { return "text|json" }

// addOutputFlag registers -o on cmd.
func (a *app) addOutputFlag(cmd *cobra.Command) {
	cmd.Flags().VarP(&a.output, "output", "o", "output format: text or json")
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printJSONLine writes v as one line of JSON.
func printJSONLine(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}
