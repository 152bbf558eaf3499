package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// embedded checks the cluster block of backend embedded.
func (v *validator) embedded() {
	c := &v.c.Cluster
	if len(c.Endpoints) > 0 {
		v.add("cluster.endpoints", "remove them: with backend embedded every host talks to its own member", "endpoints are set but cluster.backend is embedded")
	}
	if c.TLS != (ClusterTLS{}) || c.Username != "" || c.PasswordFile != "" {
		path := "cluster.tls"
		if c.TLS == (ClusterTLS{}) {
			path = "cluster.username"
			if c.Username == "" {
				path = "cluster.password_file"
			}
		}
		v.add(path, "remove it; secure the members' traffic with cluster.peer_tls", "%s is for an etcd you run, not for backend embedded", path)
	}
	if len(c.Members) == 0 {
		v.add("cluster.members", `list every host and its peer URL, e.g. {web-1: "http://10.0.0.5:2380", web-2: "http://10.0.0.6:2380", web-3: "http://10.0.0.7:2380"}`, "cluster.backend embedded needs members")
	}
	tls := c.PeerTLS != (ClusterTLS{})
	seen := map[string]string{}
	for _, name := range c.MemberNames() {
		path := "cluster.members." + name
		if !clusterNameRE.MatchString(name) {
			v.add(path, "use letters, digits, '.', '-' or '_' (at most 63), as in cluster.name", "member name %q cannot name a host", name)
		}
		raw := c.Members[name]
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.Port() == "" || (u.Path != "" && u.Path != "/") {
			v.add(path, `write the URL the other members reach this one at, e.g. "http://10.0.0.5:2380"`, "%q is not a peer URL", raw)
			continue
		}
		switch {
		case tls && u.Scheme != "https":
			v.add(path, `write it with https://: cluster.peer_tls is set`, "peer URL %s is not https", raw)
		case !tls && u.Scheme == "https":
			v.add(path, "set cluster.peer_tls (ca, cert, key), or use http://", "https peer URL %s without cluster.peer_tls", raw)
		}
		if other, dup := seen[u.Host]; dup {
			v.add(path, "give every member its own host:port", "member %s has the peer URL of member %s%s", name, other, v.at("cluster.members."+other))
		}
		seen[u.Host] = name
	}
	if _, ok := c.Members[c.Name]; len(c.Members) > 0 && !ok && clusterNameRE.MatchString(c.Name) {
		v.add("cluster.name", fmt.Sprintf("add %s to cluster.members, or set cluster.name to one of: %s", c.Name, strings.Join(c.MemberNames(), ", ")),
			"host %q is not one of cluster.members", c.Name)
	}
	client := v.listenAddr("cluster.client_listen", c.ClientListen, `e.g. "127.0.0.1:2379"`)
	if client.IsValid() && !client.Addr().IsLoopback() {
		v.add("cluster.client_listen", `use a loopback address such as "127.0.0.1:2379": the client port has no authentication`, "%s is not a loopback address", c.ClientListen)
	}
	if _, ok := c.Members[c.Name]; ok || c.PeerListen != "" {
		// A defaulted peer_listen comes from this host's members entry.
		path := "cluster.peer_listen"
		if !v.c.src.has(path) {
			path = "cluster.members." + c.Name
		}
		peer := v.listenAddr(path, c.PeerListen, `e.g. "10.0.0.5:2380" or "0.0.0.0:2380"`)
		if client.IsValid() && peer.IsValid() && client.Port() == peer.Port() && (client.Addr() == peer.Addr() || peer.Addr().IsUnspecified()) {
			v.add(path, "use another port than cluster.client_listen", "peer listener %s overlaps cluster.client_listen %s", c.PeerListen, c.ClientListen)
		}
	}
	v.oneOf("cluster.initial_cluster_state", c.InitialClusterState, ClusterStateNew, ClusterStateExisting)
	if tls {
		p := c.PeerTLS
		if p.Cert == "" || p.Key == "" || p.CA == "" {
			v.add("cluster.peer_tls", "set ca, cert and key: members present their certificate and check the others' against the CA", "cluster.peer_tls is incomplete")
		}
		v.file("cluster.peer_tls.ca", p.CA)
		v.file("cluster.peer_tls.cert", p.Cert)
		v.file("cluster.peer_tls.key", p.Key)
	}
}

// listenAddr checks an IP:port listen address with a non-zero port and
// returns it (invalid after a problem was recorded).
func (v *validator) listenAddr(path, addr, example string) netip.AddrPort {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.add(path, "write IP:port, "+example, "%q is not a listen address", addr)
		return netip.AddrPort{}
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	ap, err := netip.ParseAddrPort(net.JoinHostPort(host, port))
	if err != nil || ap.Port() == 0 {
		v.add(path, "write an IP address and a port other than 0, "+example, "%q is not a listen address", addr)
		return netip.AddrPort{}
	}
	return ap
}
