package etcd_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/coord"
	"github.com/cutover-dev/cutover/internal/coord/coordtest"
	"github.com/cutover-dev/cutover/internal/coord/etcd"
	"github.com/cutover-dev/cutover/internal/etcdtest"
)

func backend(endpoints []string) coordtest.Backend {
	return coordtest.Backend{
		Open: func(t *testing.T) (coord.Store, string) {
			st, err := etcd.Open(context.Background(), etcd.Options{Endpoints: endpoints})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Close() })
			b := make([]byte, 4)
			_, _ = rand.Read(b)
			return st, "/t-" + hex.EncodeToString(b) + "/"
		},
		Compact: func(t *testing.T, st coord.Store, rev int64) {
			if err := st.(*etcd.Store).Compact(context.Background(), rev); err != nil {
				t.Fatal(err)
			}
		},
		LeaseTTL: 2 * time.Second,
	}
}

// TestContractEmbedded runs the suite on the embedded etcd 3.7 server.
func TestContractEmbedded(t *testing.T) {
	coordtest.Run(t, backend(etcdtest.Embedded(t)))
}

// TestContractDebianEtcd runs the suite on Debian's etcd-server binary (3.4).
func TestContractDebianEtcd(t *testing.T) {
	c := etcdtest.StartBinary(t, etcdtest.BinaryOptions{Members: 1})
	coordtest.Run(t, backend(c.Endpoints()))
}

// TestOpenUnreachable fails clearly and quickly.
func TestOpenUnreachable(t *testing.T) {
	start := time.Now()
	_, err := etcd.Open(context.Background(), etcd.Options{Endpoints: []string{"http://127.0.0.1:1"}, DialTimeout: time.Second})
	if err == nil || !strings.Contains(err.Error(), "does not answer") {
		t.Fatalf("open of a dead endpoint: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("took %s to fail", time.Since(start))
	}
}

// TestServerNotLinkedIntoCutover keeps the etcd server out of the product.
func TestServerNotLinkedIntoCutover(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "../../../cmd/cutover").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "go.etcd.io/etcd/server") {
		t.Fatal("cmd/cutover links go.etcd.io/etcd/server; it must stay test-only (internal/etcdtest)")
	}
}

// TestServerLinkedOnlyByTheEmbedBuild: the embedetcd build links the etcd
// server (cluster.backend: embedded), through internal/coord/embedded only.
func TestServerLinkedOnlyByTheEmbedBuild(t *testing.T) {
	out, err := exec.Command("go", "list", "-tags", "embedetcd", "-deps", "../../../cmd/cutover").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -tags embedetcd: %v\n%s", err, out)
	}
	deps := string(out)
	for _, want := range []string{"go.etcd.io/etcd/server/v3/embed", "github.com/cutover-dev/cutover/internal/coord/embedded"} {
		if !strings.Contains(deps, want+"\n") {
			t.Errorf("the embedetcd build of cmd/cutover does not link %s", want)
		}
	}
	plain, err := exec.Command("go", "list", "-deps", "../../../cmd/cutover").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, plain)
	}
	if strings.Contains(string(plain), "internal/coord/embedded") {
		t.Error("the default build links internal/coord/embedded")
	}
}
