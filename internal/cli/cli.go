// Package cli implements cutover's command line: the server (serve), config
// checks (validate), and the admin commands that talk to a running server
// through the admin API (deploy, rollback, status, ...).
package cli

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

// Environment variables read by the command line.
const (
	envAdmin  = "CUTOVER_ADMIN"
	envConfig = "CUTOVER_CONFIG"
	envToken  = "CUTOVER_TOKEN"
	envCA     = "CUTOVER_ADMIN_CA"
)

// Main runs the command line with args (without the program name) and
// returns the process exit code. SIGINT and SIGTERM cancel the running
// command's context; a second signal gets the default behaviour.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	context.AfterFunc(ctx, stop)
	a := &app{
		stdout: os.Stdout,
		stderr: os.Stderr,
		getenv: os.Getenv,
		now:    time.Now,
		loc:    time.Local,
	}
	return a.run(ctx, args)
}

// app is one run of the command line: its environment and global flags.
type app struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	now            func() time.Time
	loc            *time.Location

	// Global flags.
	admin, token, configPath, adminCA string
	// output is the -o flag of the command that runs.
	output outputFormat
}

// run executes args and returns the exit code.
func (a *app) run(ctx context.Context, args []string) int {
	root := a.newRoot()
	if args == nil {
		args = []string{} // cobra would read os.Args
	}
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	return a.report(cmd, err)
}

// newRoot builds the command tree.
func (a *app) newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "cutover",
		Short: "Zero-downtime deploys: a reverse proxy and the controller that switches it",
		Long: `cutover is a reverse proxy in front of your web app and the controller that deploys new
versions of it without failing a request: it starts the new version beside the old one, waits
until it is healthy, switches traffic in one atomic step, drains the old version and keeps it
warm for an instant rollback.

Run the server with 'cutover serve -c cutover.yaml'. The other commands talk to it through its
admin API: by default the unix socket named in the config (admin.socket).

Admin address (first that is set):
  --admin ADDR              unix:///path/to/admin.sock, http://host:port or https://host:port
                            (TCP needs --token; --admin-ca FILE verifies a self-signed https)
  $CUTOVER_ADMIN
  admin.socket of the config given by -c or $CUTOVER_CONFIG
  <state_dir>/admin.sock    /var/lib/cutover as root, else $XDG_STATE_HOME/cutover
                            or ~/.local/state/cutover

` + exitCodesHelp(),
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.Version = versionString()
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err: err} })
	pf := root.PersistentFlags()
	pf.StringVar(&a.admin, "admin", "", "admin API address (default: see above)")
	pf.StringVar(&a.token, "token", "", "admin API token for TCP addresses (default $CUTOVER_TOKEN)")
	pf.StringVar(&a.adminCA, "admin-ca", "", "PEM CA file to verify an https:// admin address (default $CUTOVER_ADMIN_CA, else the system's)")
	pf.StringVarP(&a.configPath, "config", "c", "", "config file (default $CUTOVER_CONFIG)")

	root.AddGroup(
		&cobra.Group{ID: groupDeploy, Title: "Deploying:"},
		&cobra.Group{ID: groupInspect, Title: "Inspecting:"},
		&cobra.Group{ID: groupServer, Title: "Running the server:"},
	)
	root.AddCommand(
		a.deployCmd(), a.rollbackCmd(), a.promoteCmd(), a.abortCmd(), a.pauseCmd(), a.resumeCmd(), a.setWeightCmd(), a.lintSQLCmd(), a.migrateCmd(),
		a.statusCmd(), a.hostsCmd(), a.historyCmd(), a.eventsCmd(), a.logsCmd(), a.dashboardCmd(),
		a.serveCmd(), a.validateCmd(), a.reloadCmd(), a.upgradeCmd(), a.clusterCmd(), a.demoCmd(),
		a.versionCmd(), a.sampleAppCmd(),
	)
	return root
}

func init() {
	// List commands in the order they are added (most used first), not by name.
	cobra.EnableCommandSorting = false
}

// Command groups shown in help.
const (
	groupDeploy  = "deploy"
	groupInspect = "inspect"
	groupServer  = "server"
)
