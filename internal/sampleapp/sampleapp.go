// Package sampleapp is a small HTTP app used by the demo and tests: it
// reports its version and can start slowly, fail health, return errors,
// add latency or crash on request.
package sampleapp

// Main runs the sample app with args (without the program name) and returns the exit code.
func Main(args []string) int { return 2 }
