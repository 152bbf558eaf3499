package embedded

import (
	"context"
	"log/slog"
	"path/filepath"

	"github.com/cutover-dev/cutover/internal/config"
)

// DataDir is the member's data directory under state_dir.
const DataDir = "etcd"

// OptionsFor returns the member options of a config's cluster block
// (backend embedded): data in state_dir/etcd, the fleet's prefix in the
// cluster token.
func OptionsFor(cfg *config.Config, log *slog.Logger) Options {
	cl := cfg.Cluster
	return Options{
		Name: cl.Name, Dir: filepath.Join(cfg.StateDir, DataDir), Members: cl.Members,
		ClientListen: cl.ClientListen, PeerListen: cl.PeerListen, State: cl.InitialClusterState,
		Token:  "cutover" + cl.Prefix,
		PeerCA: cl.PeerTLS.CA, PeerCert: cl.PeerTLS.Cert, PeerKey: cl.PeerTLS.Key,
		Logger: log,
	}
}

// StartFromConfig starts the member a config describes; it is the
// server.EmbeddedEtcd of the embedetcd build.
func StartFromConfig(ctx context.Context, cfg *config.Config, log *slog.Logger) (string, func() error, error) {
	m, err := Start(ctx, OptionsFor(cfg, log))
	if err != nil {
		return "", nil, err
	}
	return m.ClientURL(), m.Close, nil
}
