package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/cutover-dev/cutover/internal/api"
)

func (a *app) eventsCmd() *cobra.Command {
	var op string
	cmd := &cobra.Command{
		Use:     "events [SERVICE]",
		GroupID: groupInspect,
		Short:   "Watch deploy progress as it happens",
		Long: `Events prints the progress of every operation of SERVICE (of every service when SERVICE is
omitted) as it happens, until Ctrl-C. With --op it replays that operation from its start,
follows it to its end and exits with the code deploy would have given it.`,
		Example: `  # Everything that happens, on every service
  cutover events

  # Re-attach to a deploy started with --detach (or after Ctrl-C)
  cutover events web --op op-7f3a

  # Feed a log pipeline
  cutover events -o json`,
		Args: maxArgs("SERVICE"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			service := ""
			if len(args) > 0 {
				service = args[0]
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			if op != "" {
				return a.followOne(cmd.Context(), c, service, op)
			}
			return a.followAll(cmd.Context(), c, service)
		}),
	}
	cmd.Flags().StringVar(&op, "op", "", "follow this operation id only, to its end")
	a.addOutputFlag(cmd)
	return cmd
}

// followOne follows one operation and maps its outcome to the exit code.
func (a *app) followOne(ctx context.Context, c *api.Client, service, op string) error {
	outcome, err := a.follow(ctx, c, service, op)
	switch {
	case err == nil:
		if code := outcomeExitCode(outcome); code != ExitOK {
			return &exitError{code: code}
		}
		return nil
	case ctx.Err() != nil:
		fmt.Fprintf(a.stderr, "Stopped watching; operation %s goes on.\n", op)
		return &exitError{code: ExitStillRunning}
	}
	return err
}

// followAll prints every event until ctx ends (which is success).
func (a *app) followAll(ctx context.Context, c *api.Client, service string) error {
	stream, err := c.Events(ctx, service, "")
	if err != nil {
		return err
	}
	defer stream.Close()
	p := &eventPrinter{w: a.stdout, json: a.output == outputJSON, many: true, loc: a.loc}
	for {
		ev, err := stream.Next()
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, io.EOF):
			return api.ErrStreamEnded
		case err != nil:
			return err
		}
		if err := p.print(ev); err != nil {
			return err
		}
	}
}
