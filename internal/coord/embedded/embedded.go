// Package embedded runs this host's member of an etcd cluster that the
// hosts' cutover processes form among themselves (cluster.backend:
// embedded), on go.etcd.io/etcd/server/v3/embed, as k3s does.
//
// The package links the etcd server (~20 MB, ~170 packages). The default
// cutover binary leaves it out; the embedetcd build
// (go build -tags embedetcd ./cmd/cutover) links it in through
// cmd/cutover/embedetcd.go. See bench/embedded-etcd.md for the cost.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// Options configures Start.
type Options struct {
	// Name is this member's name, a key of Members (required).
	Name string
	// Dir is the member's data directory (required), e.g. state_dir/etcd.
	Dir string
	// Members maps every member's name to its peer URL (required).
	Members map[string]string
	// ClientListen is the host:port of the client listener (required; a
	// loopback address: it has no authentication).
	ClientListen string
	// PeerListen is the host:port the member listens on for its peers
	// (required).
	PeerListen string
	// State is "new" (bootstrap the listed members; default) or "existing"
	// (join a running cluster that this member was added to). It is read
	// only while Dir holds no data.
	State string
	// Token tells clusters apart while they bootstrap (default "cutover").
	Token string
	// PeerCA, PeerCert and PeerKey turn on TLS between members: every peer
	// must present a certificate signed by PeerCA.
	PeerCA, PeerCert, PeerKey string
	// Heartbeat and ElectionTimeout are etcd's raft timings (default 100ms
	// and 1s, etcd's own defaults, fit for a LAN).
	Heartbeat, ElectionTimeout time.Duration
	// UnsafeNoFsync skips fsync (tests and the demo only: a power loss can
	// lose committed data).
	UnsafeNoFsync bool
	// Logger receives the server's warnings and errors (default
	// slog.Default()).
	Logger *slog.Logger
	// WaitLogEvery is how often Start logs while it waits for a quorum
	// (default 5s).
	WaitLogEvery time.Duration
}

// ErrBadOptions reports options Start cannot use.
var ErrBadOptions = errors.New("embedded etcd: bad options")

// Member is this host's running etcd member. Its methods are safe for
// concurrent use; Close is idempotent.
type Member struct {
	e         *embed.Etcd
	client    string
	log       *slog.Logger
	closeOnce sync.Once
	stop      chan struct{}
	watched   sync.WaitGroup
}

// Start starts the member and returns once it is part of a cluster with
// a leader: at a first start that takes a quorum of the listed members
// (so start them together); later, with a live quorum, well under a
// second. It waits for as long as ctx allows, logging every WaitLogEvery
// which members it waits for.
func Start(ctx context.Context, opts Options) (*Member, error) {
	cfg, err := embedConfig(opts)
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("embedded etcd: start member %s: %w", opts.Name, err)
	}
	m := &Member{e: e, client: "http://" + opts.ClientListen, log: log, stop: make(chan struct{})}
	every := opts.WaitLogEvery
	if every <= 0 {
		every = 5 * time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	started := time.Now()
	for {
		select {
		case <-e.Server.ReadyNotify():
			log.Info("embedded etcd member ready", "member", opts.Name, "took", time.Since(started).Round(time.Millisecond),
				"client", m.client, "peer", opts.Members[opts.Name])
			m.watched.Go(m.watch)
			return m, nil
		case err := <-e.Err():
			closeUnready(e)
			return nil, fmt.Errorf("embedded etcd member %s: %w", opts.Name, err)
		case <-e.Server.StopNotify():
			closeUnready(e)
			return nil, fmt.Errorf("embedded etcd member %s stopped while joining the cluster (see the etcd errors above)", opts.Name)
		case <-ctx.Done():
			closeUnready(e)
			return nil, fmt.Errorf("embedded etcd member %s: no quorum yet: %w", opts.Name, ctx.Err())
		case <-tick.C:
			log.Warn("embedded etcd: waiting for a quorum of members; start cutover on the other hosts",
				"member", opts.Name, "members", memberList(opts.Members), "waited", time.Since(started).Round(time.Second))
		}
	}
}

// closeUnready closes a member that never became ready. embed's Close
// waits for its client servers, which wait for the server to be ready or
// stopping: the server is stopped first.
func closeUnready(e *embed.Etcd) {
	e.Server.HardStop()
	e.Close()
}

// embedConfig builds the embed configuration.
func embedConfig(opts Options) (*embed.Config, error) {
	if opts.Name == "" || opts.Dir == "" || len(opts.Members) == 0 || opts.ClientListen == "" || opts.PeerListen == "" {
		return nil, fmt.Errorf("%w: name, dir, members, client and peer listeners are required", ErrBadOptions)
	}
	self, ok := opts.Members[opts.Name]
	if !ok {
		return nil, fmt.Errorf("%w: %s is not one of the members", ErrBadOptions, opts.Name)
	}
	advertise, err := url.Parse(self)
	if err != nil {
		return nil, fmt.Errorf("%w: peer URL %q: %v", ErrBadOptions, self, err)
	}
	cfg := embed.NewConfig()
	cfg.Name = opts.Name
	cfg.Dir = opts.Dir
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(etcdLogger(opts.Logger))
	cfg.LogLevel = "warn"
	client := url.URL{Scheme: "http", Host: opts.ClientListen}
	peer := url.URL{Scheme: advertise.Scheme, Host: opts.PeerListen}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{*advertise}
	cfg.InitialCluster = memberList(opts.Members)
	cfg.InitialClusterToken = opts.Token
	if cfg.InitialClusterToken == "" {
		cfg.InitialClusterToken = "cutover"
	}
	switch opts.State {
	case "", embed.ClusterStateFlagNew:
		cfg.ClusterState = embed.ClusterStateFlagNew
	case embed.ClusterStateFlagExisting:
		cfg.ClusterState = embed.ClusterStateFlagExisting
	default:
		return nil, fmt.Errorf("%w: initial cluster state %q (new or existing)", ErrBadOptions, opts.State)
	}
	if opts.PeerCert != "" {
		cfg.PeerTLSInfo.CertFile, cfg.PeerTLSInfo.KeyFile = opts.PeerCert, opts.PeerKey
		cfg.PeerTLSInfo.TrustedCAFile = opts.PeerCA
		cfg.PeerTLSInfo.ClientCertAuth = true
	}
	cfg.TickMs, cfg.ElectionMs = 100, 1000
	if opts.Heartbeat > 0 {
		cfg.TickMs = uint(opts.Heartbeat / time.Millisecond)
	}
	if opts.ElectionTimeout > 0 {
		cfg.ElectionMs = uint(opts.ElectionTimeout / time.Millisecond)
	}
	cfg.UnsafeNoFsync = opts.UnsafeNoFsync
	// The fleet keeps a few keys per host and deploy; an hour of history
	// is plenty for watches that reconnect (a compacted watch re-lists).
	cfg.AutoCompactionMode, cfg.AutoCompactionRetention = embed.CompactorModePeriodic, "1h"
	return cfg, nil
}

// memberList is etcd's initial-cluster form: name=url,... sorted by name.
func memberList(members map[string]string) string {
	names := make([]string, 0, len(members))
	for n := range members {
		names = append(names, n)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + "=" + members[n]
	}
	return strings.Join(parts, ",")
}

// watch logs the member's end while cutover still runs (it was removed
// from the cluster, or its data is broken): from then on this host cannot
// renew its lease and leaves the load balancer's pool.
func (m *Member) watch() {
	select {
	case <-m.stop:
	case err := <-m.e.Err():
		if err != nil {
			m.log.Error("embedded etcd member failed; this host is fenced out until cutover restarts", "err", err)
		}
	case <-m.e.Server.StopNotify():
		select {
		case <-m.stop:
		default:
			m.log.Error("embedded etcd member stopped (removed from the cluster?); this host is fenced out until cutover restarts")
		}
	}
}

// ClientURL is the URL this host's cutover connects to.
func (m *Member) ClientURL() string { return m.client }

// Close stops the member: it leaves the cluster's quorum until it starts
// again (its membership stays; see `cutover cluster remove`).
func (m *Member) Close() error {
	m.closeOnce.Do(func() {
		close(m.stop)
		m.e.Close()
		m.watched.Wait()
	})
	return nil
}
