package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cutover-dev/cutover/internal/dashboard"
)

// dashboardShutdown bounds finishing the forwarder's requests on Ctrl-C.
const dashboardShutdown = 2 * time.Second

func (a *app) dashboardCmd() *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:     "dashboard",
		GroupID: groupInspect,
		Short:   "Open the live web dashboard: prints a one-time login link",
		Long: `Dashboard prints a link to the web dashboard of the running server: every service with its
live, canary and standby versions, instances and their health, weights, requests per second,
error rate and p50/p99 latency per version, the canary verdict, a chart of requests per version
(a switch shows as a crossover) and the deploy history as a timeline; with promote, abort,
pause, resume and rollback buttons, each asking for confirmation.

The link carries a login code that works once, within two minutes; opening it starts a browser
session (a cookie) that lasts 12 hours or until the server restarts. Run the command again for
a new link.

With the admin unix socket (the default), a browser cannot reach the server directly: the
command listens on --listen (a loopback port by default) and forwards to the socket until
Ctrl-C. Requests through that port need the session, so other users of the host cannot use it.
With a TCP admin address (--admin http://..., --token) the link points at the server itself
and the command exits at once.`,
		Example: `  # On the server: print the link, forward until Ctrl-C
  cutover dashboard

  # From a laptop, through an SSH tunnel to the server's socket-forwarding port
  ssh -L 7071:127.0.0.1:7071 server cutover dashboard --listen 127.0.0.1:7071

  # A TCP admin listener: the link points at it
  cutover dashboard --admin https://cutover.internal:7070 --token "$TOKEN"`,
		Args: noArgs,
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			return a.runDashboard(cmd.Context(), listen)
		}),
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:0",
		"address the forwarder to the admin socket listens on (port 0: any free port)")
	a.addOutputFlag(cmd)
	return cmd
}

// dashboardLink is what the command prints.
type dashboardLink struct {
	URL     string    `json:"url"`
	Expires time.Time `json:"expires"`
	// Listen is the forwarder's address ("" when the link points at a TCP
	// admin listener).
	Listen string `json:"listen,omitempty"`
}

func (a *app) runDashboard(ctx context.Context, listen string) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return usagef("--listen %q: want host:port, e.g. 127.0.0.1:0 (%v)", listen, err)
	}
	addr, _, err := a.adminAddr()
	if err != nil {
		return err
	}
	c, err := a.client()
	if err != nil {
		return err
	}
	defer c.Close()
	login, err := c.DashboardLogin(ctx)
	if err != nil {
		return err
	}
	if isTCP(addr) {
		return a.printDashboardLink(dashboardLink{URL: strings.TrimRight(addr, "/") + login.Path, Expires: login.Expires})
	}
	sock := strings.TrimPrefix(addr, "unix://")
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", listen, err)
	}
	defer ln.Close()
	if host == "" || host == "0.0.0.0" || host == "::" {
		fmt.Fprintf(a.stderr, "warning: --listen %s accepts connections from other hosts; links still need the one-time code\n", listen)
	}
	var d net.Dialer
	fwd := dashboard.NewForwarder(func(ctx context.Context) (net.Conn, error) {
		return d.DialContext(ctx, "unix", sock)
	})
	srv := &http.Server{Handler: fwd, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	link := dashboardLink{URL: "http://" + urlHost(ln.Addr()) + login.Path, Expires: login.Expires, Listen: ln.Addr().String()}
	if err := a.printDashboardLink(link); err != nil {
		_ = srv.Close()
		return err
	}
	if a.output != outputJSON {
		fmt.Fprintf(a.stdout, "Forwarding %s to %s; Ctrl-C stops.\n", ln.Addr(), sock)
	}
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), dashboardShutdown)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			_ = srv.Close()
		}
		return nil
	case err := <-served:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("dashboard forwarder: %w", err)
	}
}

// urlHost returns the host:port of a for a URL, naming 127.0.0.1 for an
// unspecified address (the link is opened on this host).
func urlHost(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	if ta.IP.IsUnspecified() {
		return fmt.Sprintf("127.0.0.1:%d", ta.Port)
	}
	return ta.String()
}

func (a *app) printDashboardLink(l dashboardLink) error {
	if a.output == outputJSON {
		return printJSONLine(a.stdout, l)
	}
	_, err := fmt.Fprintf(a.stdout, "Dashboard: %s\n(the link logs in once, until %s)\n", l.URL,
		l.Expires.In(a.loc).Format("15:04:05"))
	return err
}
