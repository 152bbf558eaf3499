// Package etcdtest runs etcd for tests: the embedded server
// (go.etcd.io/etcd/server/v3/embed, never linked into cutover itself), the
// Debian etcd binary as a 1- or 3-member cluster on loopback, and a TCP
// fault proxy to cut a client off.
package etcdtest

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"

	"github.com/cutover-dev/cutover/internal/testutil"
	"go.uber.org/zap"
)

// Embedded starts an embedded etcd server in a temporary directory and
// returns its client endpoints; it is stopped when the test ends.
func Embedded(t testing.TB) []string {
	t.Helper()
	cfg := embed.NewConfig()
	cfg.Dir = t.TempDir()
	cfg.UnsafeNoFsync = true
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	cfg.LogLevel = "error"
	client := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))}
	peer := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	cfg.InitialCluster = cfg.Name + "=" + peer.String()
	cfg.TickMs, cfg.ElectionMs = 50, 500
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatalf("start embedded etcd: %v", err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(20 * time.Second):
		e.Close()
		t.Fatal("embedded etcd did not become ready within 20s")
	}
	t.Cleanup(e.Close)
	return []string{client.String()}
}
