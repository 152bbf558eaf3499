package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/coord"
	etcdstore "github.com/cutover-dev/cutover/internal/coord/etcd"
)

// EmbeddedEtcd starts this host's member of the embedded etcd cluster
// (cluster.backend: embedded) and returns once it belongs to a cluster
// with a leader, with the URL its clients connect to and the function
// that stops it.
type EmbeddedEtcd func(ctx context.Context, cfg *config.Config, log *slog.Logger) (clientURL string, stop func() error, err error)

// EmbeddedEtcdBuildTag is the build tag of the cutover binary that links
// the etcd server.
const EmbeddedEtcdBuildTag = "embedetcd"

// ErrNoEmbeddedEtcd reports cluster.backend embedded in a binary built
// without the etcd server.
var ErrNoEmbeddedEtcd = errors.New("this cutover binary was built without the embedded etcd server (cluster.backend: embedded); " +
	"build it with: go build -tags " + EmbeddedEtcdBuildTag + " ./cmd/cutover (README, \"Embedded etcd\"), " +
	"or run etcd and set cluster.backend: etcd")

var (
	embeddedMu sync.Mutex
	embedded   EmbeddedEtcd
)

// UseEmbeddedEtcd installs the embedded etcd member; the embedetcd build
// of cmd/cutover calls it at init. Without it, cluster.backend embedded
// fails with ErrNoEmbeddedEtcd.
func UseEmbeddedEtcd(start EmbeddedEtcd) {
	embeddedMu.Lock()
	defer embeddedMu.Unlock()
	embedded = start
}

// HasEmbeddedEtcd reports whether this binary can run cluster.backend
// embedded.
func HasEmbeddedEtcd() bool {
	embeddedMu.Lock()
	defer embeddedMu.Unlock()
	return embedded != nil
}

// embeddedStore is the etcd store on this host's own member; closing it
// closes the client, then stops the member.
type embeddedStore struct {
	*etcdstore.Store
	stop func() error
}

// Close implements coord.Store.
func (s *embeddedStore) Close() error {
	return errors.Join(s.Store.Close(), s.stop())
}

// openEmbedded starts this host's etcd member and connects to it. At a
// first start it waits (as long as ctx allows) for a quorum of members.
func openEmbedded(ctx context.Context, cfg *config.Config, log *slog.Logger) (coord.Store, error) {
	embeddedMu.Lock()
	start := embedded
	embeddedMu.Unlock()
	if start == nil {
		return nil, ErrNoEmbeddedEtcd
	}
	client, stop, err := start(ctx, cfg, log)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	st, err := etcdstore.Open(ctx, etcdstore.Options{Endpoints: []string{client}, Logger: log})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("cluster: connect to the embedded etcd member at %s: %w", client, err), stop())
	}
	return &embeddedStore{Store: st, stop: stop}, nil
}
