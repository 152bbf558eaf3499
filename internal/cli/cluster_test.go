package cli

import (
	"strings"
	"testing"
)

// TestClusterCommandErrors: the cluster commands manage the embedded etcd
// only, and an unreachable member is exit code 4.
func TestClusterCommandErrors(t *testing.T) {
	var h *harness
	local := writeConfig(t, goodConfig)
	if r := h.run(t, "cluster", "-c", local); r.code != ExitUsage || !strings.Contains(r.stderr, "cluster.backend is local") {
		t.Fatalf("cluster with a local backend: %+v", r)
	}
	if r := h.run(t, "cluster", "--endpoint", "http://127.0.0.1:1"); r.code != ExitUnreachable || !strings.Contains(r.stderr, "does the cluster have a quorum") {
		t.Fatalf("cluster with nothing at the endpoint: %+v", r)
	}
	if r := h.run(t, "cluster", "add", "web 4", "http://10.0.0.8:2380"); r.code != ExitUsage || !strings.Contains(r.stderr, "cannot name a host") {
		t.Fatalf("add with a bad name: %+v", r)
	}
	if r := h.run(t, "cluster", "add", "web-4", "10.0.0.8:2380"); r.code != ExitUsage || !strings.Contains(r.stderr, "not a peer URL") {
		t.Fatalf("add with a bad URL: %+v", r)
	}
}
