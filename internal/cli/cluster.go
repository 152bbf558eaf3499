package cli

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/coord"
	etcdstore "github.com/cutover-dev/cutover/internal/coord/etcd"
)

func (a *app) clusterCmd() *cobra.Command {
	var endpoint string
	cmd := &cobra.Command{
		Use:     "cluster",
		GroupID: groupServer,
		Short:   "Show and change the members of the embedded etcd cluster",
		Long: `Cluster manages the etcd cluster that the hosts' cutover processes form among themselves
(cluster.backend: embedded). It talks to this host's member at cluster.client_listen of the
config given by -c or $CUTOVER_CONFIG (default 127.0.0.1:2379), or at --endpoint.

  cutover cluster            lists the members (a member added but not started yet has no name)
  cutover cluster add ...    adds a host's member before that host first starts (join)
  cutover cluster remove ... removes a host's member (after its cutover was stopped)

Changing the members changes the quorum: with N members, (N/2)+1 must run for the fleet to
commit a deploy. See README, "Embedded etcd".`,
		Example: `  cutover cluster -c /etc/cutover/cutover.yaml
  cutover cluster add web-4 http://10.0.0.8:2380
  cutover cluster remove web-3`,
		Args: maxArgs(""),
		RunE: runE(func(cmd *cobra.Command, _ []string) error {
			st, err := a.clusterStore(cmd.Context(), endpoint)
			if err != nil {
				return err
			}
			defer st.Close()
			ms, err := st.Members(cmd.Context())
			if err != nil {
				return clusterErr(err)
			}
			if a.output == outputJSON {
				return printJSON(a.stdout, map[string]any{"members": ms})
			}
			tw := newTable()
			fmt.Fprintln(tw, "NAME\tID\tPEER URL\tSTARTED")
			for _, m := range ms {
				started := "yes"
				if m.Name == "" {
					started = "no (added, not started yet)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", orDash(m.Name), m.IDString(), strings.Join(m.PeerURLs, ","), started)
			}
			return tw.flush(a.stdout)
		}),
	}
	cmd.PersistentFlags().StringVar(&endpoint, "endpoint", "", "client URL of a member (default: http:// + cluster.client_listen of the config)")
	a.addOutputFlag(cmd)
	cmd.AddCommand(a.clusterAddCmd(&endpoint), a.clusterRemoveCmd(&endpoint))
	return cmd
}

var memberNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

func (a *app) clusterAddCmd(endpoint *string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "add NAME PEER_URL",
		Short: "Add a new host's member to the embedded etcd cluster",
		Long: `Add makes NAME (the new host's cluster.name), reachable by the other members at PEER_URL,
a member of the embedded etcd cluster, and prints the cluster block to use on that host. Run
it on a host of the running fleet, then start cutover on the new host at once: from now on
it counts towards the quorum.`,
		Example: `  cutover cluster add web-4 http://10.0.0.8:2380
  ssh web-4 systemctl start cutover`,
		Args: needArgs("NAME", "PEER_URL"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			name, peer := args[0], args[1]
			if !memberNameRE.MatchString(name) {
				return usagef("%q cannot name a host: use letters, digits, '.', '-' or '_' (at most 63)", name)
			}
			if u, err := url.Parse(peer); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Port() == "" {
				return usagef("%q is not a peer URL; write it as http://10.0.0.8:2380", peer)
			}
			st, err := a.clusterStore(cmd.Context(), *endpoint)
			if err != nil {
				return err
			}
			defer st.Close()
			ms, err := st.Members(cmd.Context())
			if err != nil {
				return clusterErr(err)
			}
			for _, m := range ms {
				if m.Name == name {
					return usagef("%s is a member already (id %s); remove it first to add it again", name, m.IDString())
				}
			}
			added, all, err := st.AddMember(cmd.Context(), peer)
			if err != nil {
				return clusterErr(err)
			}
			added.Name = name
			if a.output == outputJSON {
				return printJSON(a.stdout, map[string]any{"added": added, "members": all})
			}
			fmt.Fprintf(a.stdout, "Added %s (member %s) to the embedded etcd cluster; it counts towards the quorum from now on, so start it soon.\n", name, added.IDString())
			fmt.Fprintf(a.stdout, "On %s, put this in cutover.yaml (list the same members on every host), then start cutover serve there:\n\n", name)
			fmt.Fprintf(a.stdout, "cluster:\n  backend: embedded\n  name: %s\n  initial_cluster_state: existing\n  members:\n", name)
			for _, m := range all {
				n := m.Name
				if m.ID == added.ID {
					n = name
				}
				if n == "" || len(m.PeerURLs) == 0 {
					continue
				}
				fmt.Fprintf(a.stdout, "    %s: %q\n", n, m.PeerURLs[0])
			}
			return nil
		}),
	}
	a.addOutputFlag(cmd)
	return cmd
}

func (a *app) clusterRemoveCmd(endpoint *string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove a host's member from the embedded etcd cluster",
		Long: `Remove takes NAME's member out of the embedded etcd cluster, so that the quorum is counted
without it. Stop cutover on that host first. Then take the host out of the fleet with
'cutover hosts remove NAME', and delete its entry from cluster.members on every host. To
let the host join again later, delete its state_dir/etcd and add it with 'cutover cluster add'.`,
		Example: `  ssh web-3 systemctl stop cutover
  cutover cluster remove web-3
  cutover hosts remove web-3`,
		Args: needArgs("NAME"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			st, err := a.clusterStore(cmd.Context(), *endpoint)
			if err != nil {
				return err
			}
			defer st.Close()
			ms, err := st.Members(cmd.Context())
			if err != nil {
				return clusterErr(err)
			}
			var found *etcdstore.Member
			for i, m := range ms {
				if m.Name == args[0] || m.IDString() == args[0] {
					found = &ms[i]
				}
			}
			if found == nil {
				return &exitError{code: ExitRefused, err: fmt.Errorf("%s is not a member; 'cutover cluster' lists them", args[0])}
			}
			if err := st.RemoveMember(cmd.Context(), found.ID); err != nil {
				return clusterErr(err)
			}
			if a.output == outputJSON {
				return printJSON(a.stdout, map[string]any{"removed": found})
			}
			_, err = fmt.Fprintf(a.stdout, "Removed %s (member %s) from the embedded etcd cluster.\nNext: cutover hosts remove %s, and delete cluster.members.%s from every host's config.\n",
				args[0], found.IDString(), args[0], args[0])
			return err
		}),
	}
	a.addOutputFlag(cmd)
	return cmd
}

// clusterStore connects to a member of the embedded etcd cluster.
func (a *app) clusterStore(ctx context.Context, endpoint string) (*etcdstore.Store, error) {
	if endpoint == "" {
		endpoint = "http://" + config.DefaultClientListen
		if path := a.configFile(); path != "" {
			cfg, err := config.Load(path)
			if err != nil {
				return nil, err
			}
			if cfg.Cluster.Backend != config.ClusterEmbedded {
				return nil, usagef("%s: cluster.backend is %s; 'cutover cluster' manages the embedded etcd (for an etcd you run, use etcdctl member ...)", path, cfg.Cluster.Backend)
			}
			endpoint = "http://" + cfg.Cluster.ClientListen
		}
	}
	// The member is on this host: it answers at once or not at all.
	st, err := etcdstore.Open(ctx, etcdstore.Options{Endpoints: []string{endpoint}, DialTimeout: 2 * time.Second})
	if err != nil {
		return nil, clusterErr(err)
	}
	return st, nil
}

// clusterErr gives an unreachable or leaderless cluster exit code 4.
func clusterErr(err error) error {
	if err != nil && strings.Contains(err.Error(), "unhealthy cluster") {
		return &exitError{code: ExitRefused, err: fmt.Errorf("%w: etcd changes the members only while every member has been connected for 5 seconds; "+
			"start the members that are down (or remove them), wait a few seconds and retry", err)}
	}
	if errors.Is(err, coord.ErrUnavailable) {
		return &exitError{code: ExitUnreachable, err: fmt.Errorf("%w (is cutover serve running on this host, and does the cluster have a quorum?)", err)}
	}
	return err
}
