// Package demo runs cutover's self-contained demo: a proxy, the sample app,
// and deploys under load, with a live summary.
package demo

import (
	"context"
	"errors"
	"io"
)

// Options configures Run.
type Options struct {
	// Out receives progress and the summary.
	Out io.Writer
	// JSON prints machine-readable events instead of text.
	JSON bool
	// Versions to deploy in order after the first (default v2, v3).
	Versions []string
	// Self is the path of the cutover binary (for the sample app); default os.Executable.
	Self string
}

// Run runs the demo until it ends (within a minute) or ctx is done.
func Run(ctx context.Context, opts Options) error { return errors.New("not implemented") }
