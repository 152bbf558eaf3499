package cli

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/cutover-dev/cutover/internal/api"
	"github.com/cutover-dev/cutover/internal/deploy"
)

func (a *app) deployCmd() *cobra.Command {
	var (
		req     deploy.DeployRequest
		detach  bool
		wait    bool
		timeout time.Duration
		watch   time.Duration
	)
	cmd := &cobra.Command{
		Use:     "deploy SERVICE VERSION",
		GroupID: groupDeploy,
		Short:   "Deploy a version and watch it go live",
		Long: `Deploy starts VERSION of SERVICE beside the running version, waits until it passes its
health check, switches traffic to it in one step, drains the old version and keeps it warm
(the standby window) so that 'cutover rollback' is instant.

The command prints each step as it happens and exits when the deploy is over, with an exit
code that tells how it ended: 0 the new version is live, 1 it failed and traffic is unchanged,
3 it switched and was rolled back automatically, 6 it was aborted. If the new version fails,
its error and the last lines of its output are shown.

Ctrl-C (or --timeout) stops watching, not the deploy: it goes on on the server and the
command exits with 7. Use 'cutover abort SERVICE' to stop a deploy.

While another operation holds the service (a deploy, a canary, a watch period) the deploy is
refused with exit code 5 and a message saying what holds it and until when; --wait queues it
behind that operation instead. Old versions still draining or stopping do not hold the service.

The strategy is the service's configured one unless --strategy says otherwise: switch
(blue/green), canary (shift traffic in steps while comparing error rates and latency) or
rolling (replace instances in batches).

In a fleet (a cluster: block), every host takes part: switch prepares the new version on
every host and switches all of them in one commit, or none; canary runs at the same weight
on every host and is judged on the sum of every host's numbers, then promoted or rolled
back everywhere; rolling takes --batch hosts at a time (each prepares, then switches) and
takes switched hosts back if a later batch fails.`,
		Example: `  # Deploy v2 of the web service and wait until traffic is on it
  cutover deploy web v2

  # In CI: stay 30s after the switch so a crash right after it rolls back (exit 3),
  # print JSON events, give up waiting after 10 minutes
  cutover deploy web "$GIT_SHA" --watch 30s -o json --timeout 10m

  # Canary with the static runtime, addresses of the new version given
  cutover deploy api v3 --strategy canary --target 10.0.0.5:8080 --target 10.0.0.6:8080

  # In a fleet: replace two hosts at a time instead of all at once
  cutover deploy web v2 --strategy rolling --batch 2

  # Start the deploy and return at once
  cutover deploy web v2 --detach`,
		Args: needArgs("SERVICE", "VERSION"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			req.Service, req.Version = args[0], args[1]
			if watch < 0 {
				return usagef("--watch must not be negative")
			}
			if req.Batch < 0 {
				return usagef("--batch must be 1 or more (hosts taken at a time)")
			}
			if watch > 0 {
				req.Watch = watch.String()
			}
			o := operation{kind: "deploy", service: req.Service, what: req.Service + " " + req.Version, wait: wait}
			return a.startAndFollow(cmd.Context(), o, detach, timeout,
				func(ctx context.Context, c *api.Client) (string, error) { return c.Deploy(ctx, req) })
		}),
	}
	f := cmd.Flags()
	f.StringVar(&req.Strategy, "strategy", "", "switch, canary or rolling (default: the service's configured strategy)")
	f.StringArrayVar(&req.Targets, "target", nil, "host:port of an instance of the new version (static runtime; repeat for replicas)")
	f.BoolVar(&req.Force, "force", false, "route traffic to the new version even if it fails its health check")
	f.IntVar(&req.AllowLost, "allow-lost", 0, "in a fleet, how many hosts may be lost while they prepare and be left out (default 0: a lost host aborts the deploy)")
	f.IntVar(&req.Batch, "batch", 0, "in a fleet, with --strategy rolling: how many hosts to take at a time (default 1)")
	f.StringArrayVar(&req.Allow, "allow", nil, "let a migration lint rule through the preflight: RULE or RULE=REASON (repeat for more)")
	f.DurationVar(&watch, "watch", 0, "after the switch, keep watching the new version this long; if it turns unhealthy, roll back (exit code 3)")
	f.BoolVar(&detach, "detach", false, "start the deploy and return at once, printing the operation id")
	f.BoolVar(&wait, "wait", false, "when another operation holds the service, wait for it to end and start then (bounded by --timeout)")
	f.DurationVar(&timeout, "timeout", 0, "stop waiting after this long, e.g. 10m (the deploy goes on; exit code 7)")
	a.addOutputFlag(cmd)
	return cmd
}

func (a *app) rollbackCmd() *cobra.Command {
	var (
		req     deploy.RollbackRequest
		detach  bool
		wait    bool
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:     "rollback SERVICE",
		GroupID: groupDeploy,
		Short:   "Go back to the previous version",
		Long: `Rollback sends traffic back to the previous version of SERVICE. Within the standby window
after a deploy the previous version is still running, so the switch is immediate; after it,
the previous version is started again and health-checked first, like a deploy. --to picks an
older version instead.

Exit codes are those of deploy; 5 means there is nothing to roll back to.`,
		Example: `  # Back to the version that served before the last deploy
  cutover rollback web

  # Back to a specific earlier version
  cutover rollback web --to v1.4.2`,
		Args: needArgs("SERVICE"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			req.Service = args[0]
			what := req.Service + " to the previous version"
			if req.To != "" {
				what = req.Service + " to " + req.To
			}
			o := operation{kind: "rollback", service: req.Service, what: what, wait: wait}
			return a.startAndFollow(cmd.Context(), o, detach, timeout,
				func(ctx context.Context, c *api.Client) (string, error) { return c.Rollback(ctx, req) })
		}),
	}
	f := cmd.Flags()
	f.StringVar(&req.To, "to", "", "version to go back to (default: the standby, else the previous version)")
	f.BoolVar(&req.Force, "force", false, "go below the rollback floor that contract migrations set (the old version must work with the schema)")
	f.BoolVar(&detach, "detach", false, "start the rollback and return at once, printing the operation id")
	f.BoolVar(&wait, "wait", false, "when another operation holds the service, wait for it to end and start then")
	f.DurationVar(&timeout, "timeout", 0, "stop waiting after this long (the rollback goes on; exit code 7)")
	a.addOutputFlag(cmd)
	return cmd
}
