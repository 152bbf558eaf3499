package cli

import (
	"bytes"
	"encoding/json"
	"io"

	"github.com/spf13/cobra"

	"github.com/cutover-dev/cutover/internal/api"
)

func (a *app) logsCmd() *cobra.Command {
	var (
		req    api.LogsRequest
		follow bool
	)
	cmd := &cobra.Command{
		Use:     "logs SERVICE",
		GroupID: groupInspect,
		Short:   "Show what an instance of a service writes to its output",
		Long: `Logs prints the last lines an instance of SERVICE wrote to its standard output and error:
by default the first instance of the active version (else the candidate, else the standby).
--version and --instance pick another; 'cutover status SERVICE' lists them. With -f it keeps
printing what the instance writes until interrupted.

Process instances write to <state_dir>/logs/SERVICE/INSTANCE.log (shown by status); Docker
instances are read from the engine (-f is not supported for them: use 'docker logs -f');
static instances run elsewhere and have no log here. With -o json every line is printed as
{"line":"..."}.`,
		Example: `  cutover logs web
  cutover logs web -n 500
  cutover logs web --version v2 -f
  cutover logs web -n 0 -f         # only what comes next`,
		Args: needArgs("SERVICE"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			if req.Lines < -1 {
				return usagef("-n must be -1 (all), 0 or more, not %d", req.Lines)
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			req.Service, req.Follow = args[0], follow
			var w io.Writer = a.stdout
			var jw *jsonLines
			if a.output == outputJSON {
				jw = &jsonLines{w: a.stdout}
				w = jw
			}
			err = c.Logs(cmd.Context(), req, w)
			if jw != nil {
				jw.flush()
			}
			if err != nil && cmd.Context().Err() != nil && follow {
				return nil // interrupted: the normal end of -f
			}
			return err
		}),
	}
	f := cmd.Flags()
	f.StringVar(&req.Version, "version", "", "version whose instance to show (default: the active one)")
	f.StringVar(&req.Instance, "instance", "", "instance id (default: the version's first instance)")
	f.IntVarP(&req.Lines, "lines", "n", api.DefaultLogLines, "show this many last lines first (-1 = all)")
	f.BoolVarP(&follow, "follow", "f", false, "keep printing new output until interrupted")
	a.addOutputFlag(cmd)
	return cmd
}

// jsonLines writes each line written to it as a JSON object {"line": ...}.
type jsonLines struct {
	w       io.Writer
	pending []byte
}

// Write buffers p and writes every complete line.
func (j *jsonLines) Write(p []byte) (int, error) {
	j.pending = append(j.pending, p...)
	for {
		i := bytes.IndexByte(j.pending, '\n')
		if i < 0 {
			return len(p), nil
		}
		if err := j.emit(j.pending[:i]); err != nil {
			return 0, err
		}
		j.pending = j.pending[i+1:]
	}
}

// flush writes a last line without a newline.
func (j *jsonLines) flush() {
	if len(j.pending) > 0 {
		_ = j.emit(j.pending)
		j.pending = nil
	}
}

func (j *jsonLines) emit(line []byte) error {
	b, err := json.Marshal(struct {
		Line string `json:"line"`
	}{string(line)})
	if err != nil {
		return err
	}
	_, err = j.w.Write(append(b, '\n'))
	return err
}
