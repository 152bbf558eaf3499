package config

import (
	"fmt"
	"testing"
)

// TestDefaultsEmbedded: members make the backend embedded; the peer
// listener follows the host's own entry, the client listener is loopback.
func TestDefaultsEmbedded(t *testing.T) {
	c := loadGood(t, "embedded.yaml", userEnv)
	cl := c.Cluster
	checks := []struct {
		name      string
		got, want any
	}{
		{"backend", cl.Backend, ClusterEmbedded},
		{"client_listen", cl.ClientListen, "127.0.0.1:2379"},
		{"peer_listen", cl.PeerListen, "10.0.0.6:2380"},
		{"initial_cluster_state", cl.InitialClusterState, ClusterStateNew},
		{"members", cl.MemberNames(), []string{"web-1", "web-2", "web-3"}},
	}
	for _, c := range checks {
		if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

// TestDefaultPeerListen: a DNS name in the host's peer URL listens on
// every address (etcd binds IP addresses only).
func TestDefaultPeerListen(t *testing.T) {
	for in, want := range map[string]string{
		"http://10.0.0.6:2380":        "10.0.0.6:2380",
		"http://[fd00::6]:2380":       "[fd00::6]:2380",
		"https://db-3.internal:12380": "0.0.0.0:12380",
		"http://10.0.0.6":             "",
		"":                            "",
	} {
		if got := defaultPeerListen(in); got != want {
			t.Errorf("defaultPeerListen(%q) = %q, want %q", in, got, want)
		}
	}
}
