// Package cli implements cutover's command line.
package cli

// Main runs the command line with args and returns the process exit code.
func Main(args []string) int { return 2 }
