package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Cluster backends.
const (
	// ClusterLocal is the embedded coordination store of a single host.
	ClusterLocal = "local"
	// ClusterEtcd is an etcd cluster the user runs.
	ClusterEtcd = "etcd"
	// ClusterEmbedded is an etcd cluster the hosts form among themselves:
	// every cutover serve runs one member (needs the embedetcd build).
	ClusterEmbedded = "embedded"
)

// Initial cluster states of an embedded member.
const (
	// ClusterStateNew bootstraps a new cluster of every listed member.
	ClusterStateNew = "new"
	// ClusterStateExisting joins a running cluster this host was added to.
	ClusterStateExisting = "existing"
)

// Defaults of the cluster block.
const (
	// DefaultLeaseTTL is how long a host stays in the fleet after it last
	// renewed its lease.
	DefaultLeaseTTL = Duration(5 * time.Second)
	// DefaultClusterPrefix is the etcd key prefix of the fleet.
	DefaultClusterPrefix = "/cutover/"
	// MinLeaseTTL is etcd's smallest lease TTL.
	MinLeaseTTL = Duration(2 * time.Second)
	// DefaultClientListen is where an embedded member serves etcd clients.
	DefaultClientListen = "127.0.0.1:2379"
)

// Cluster configures how hosts of one fleet coordinate. Every host of a
// fleet runs cutover serve with the same services; each names itself.
type Cluster struct {
	// Backend is local (default: one host, nothing to run), etcd (a
	// cluster the user runs; the default when endpoints are set) or
	// embedded (the hosts' cutover processes are the etcd cluster; the
	// default when members are set).
	Backend string `yaml:"backend"`
	// Endpoints are the etcd client URLs, e.g. ["https://10.0.0.5:2379"].
	Endpoints []string `yaml:"endpoints"`
	// TLS names the CA, client certificate and key for etcd.
	TLS ClusterTLS `yaml:"tls"`
	// Username and PasswordFile authenticate to etcd (a password in the
	// environment variable CUTOVER_ETCD_PASSWORD works too).
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
	// Prefix is the key prefix of the fleet (default "/cutover/"): fleets
	// sharing one etcd cluster use different prefixes.
	Prefix string `yaml:"prefix"`
	// Name is this host's name in the fleet (default: the hostname).
	Name string `yaml:"name"`
	// LeaseTTL is the host's lease TTL (default 5s, at least 2s). A host cut
	// off from etcd stops answering its ready endpoint with 200 within it.
	LeaseTTL Duration `yaml:"lease_ttl"`

	// Members are the hosts of an embedded cluster: host name → peer URL,
	// e.g. {web-1: "http://10.0.0.5:2380"}. Every host lists the same
	// members, its own name (cluster.name) among them.
	Members map[string]string `yaml:"members"`
	// ClientListen is where this host's embedded member serves etcd
	// clients (default "127.0.0.1:2379"): this host's cutover and
	// `cutover cluster` commands. It has no authentication, so it must be
	// a loopback address.
	ClientListen string `yaml:"client_listen"`
	// PeerListen is where this host's embedded member listens for the
	// other members (default: the host and port of its own members entry,
	// or 0.0.0.0 and that port when the entry names a host by DNS name).
	PeerListen string `yaml:"peer_listen"`
	// InitialClusterState is new (default: the listed members bootstrap a
	// cluster together) or existing (this host joins a running cluster
	// after `cutover cluster add`). It is read only while the member's data
	// directory (state_dir/etcd) is empty.
	InitialClusterState string `yaml:"initial_cluster_state"`
	// PeerTLS secures the traffic between embedded members: the CA that
	// signed every member's certificate, and this member's certificate and
	// key (presented as server and as client). With it, peer URLs are https
	// and a peer without a certificate from that CA is refused.
	PeerTLS ClusterTLS `yaml:"peer_tls"`
}

// MemberNames returns the names of the embedded members, sorted.
func (c *Cluster) MemberNames() []string {
	names := make([]string, 0, len(c.Members))
	for n := range c.Members {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// ClusterTLS names the files of an etcd TLS connection.
type ClusterTLS struct {
	CA   string `yaml:"ca"`
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// PasswordEnv is the environment variable holding the etcd password when
// cluster.password_file is not set.
const PasswordEnv = "CUTOVER_ETCD_PASSWORD"

// Password returns the etcd password from cluster.password_file or the
// environment ("" when neither is set).
func (c *Cluster) Password(lookupEnv func(string) (string, bool)) (string, error) {
	if c.PasswordFile != "" {
		b, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("cluster.password_file: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	if lookupEnv != nil {
		if v, ok := lookupEnv(PasswordEnv); ok {
			return v, nil
		}
	}
	return "", nil
}

// applyDefaults fills the unset fields of the cluster block.
func (c *Cluster) applyDefaults(unset unsetFunc) {
	if unset("cluster.backend", c.Backend == "") {
		c.Backend = ClusterLocal
		switch {
		case len(c.Endpoints) > 0:
			c.Backend = ClusterEtcd
		case len(c.Members) > 0:
			c.Backend = ClusterEmbedded
		}
	}
	if unset("cluster.prefix", c.Prefix == "") {
		c.Prefix = DefaultClusterPrefix
	}
	if unset("cluster.lease_ttl", c.LeaseTTL == 0) {
		c.LeaseTTL = DefaultLeaseTTL
	}
	if unset("cluster.name", c.Name == "") {
		if h, err := os.Hostname(); err == nil {
			c.Name = strings.ToLower(strings.SplitN(h, ".", 2)[0])
		}
	}
	if c.Backend != ClusterEmbedded {
		return
	}
	if unset("cluster.client_listen", c.ClientListen == "") {
		c.ClientListen = DefaultClientListen
	}
	if unset("cluster.initial_cluster_state", c.InitialClusterState == "") {
		c.InitialClusterState = ClusterStateNew
	}
	if unset("cluster.peer_listen", c.PeerListen == "") {
		c.PeerListen = defaultPeerListen(c.Members[c.Name])
	}
}

// defaultPeerListen is the listen address for the peer URL u: its host and
// port, or every address and its port when the host is a DNS name (etcd
// binds IP addresses only). It is "" when u is not a URL with a port.
func defaultPeerListen(u string) string {
	pu, err := url.Parse(u)
	if err != nil || pu.Port() == "" {
		return ""
	}
	if _, err := netip.ParseAddr(pu.Hostname()); err != nil {
		return net.JoinHostPort("0.0.0.0", pu.Port())
	}
	return pu.Host
}

var clusterNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// cluster checks the cluster block.
func (v *validator) cluster() {
	c := &v.c.Cluster
	switch c.Backend {
	case ClusterLocal:
		if len(c.Endpoints) > 0 {
			v.add("cluster.endpoints", `remove them, or set cluster.backend: etcd`, "endpoints are set but cluster.backend is local")
		}
	case ClusterEtcd:
		if len(c.Endpoints) == 0 {
			v.add("cluster.endpoints", `list the etcd client URLs, e.g. ["http://10.0.0.5:2379"]`, "cluster.backend etcd needs endpoints")
		}
		for i, e := range c.Endpoints {
			path := fmt.Sprintf("cluster.endpoints[%d]", i)
			u, err := url.Parse(e)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Port() == "" {
				v.add(path, `write a URL with scheme and port, e.g. "https://10.0.0.5:2379"`, "%q is not an etcd client URL", e)
				continue
			}
			if u.Scheme == "https" && c.TLS.CA == "" {
				v.add("cluster.tls.ca", "name the CA that signed the etcd server certificate", "https endpoint %s without cluster.tls.ca", e)
			}
		}
	case ClusterEmbedded:
		v.embedded()
	default:
		v.add("cluster.backend", "use local (one host), etcd (a cluster you run) or embedded (the hosts are the cluster)", "unknown backend %q", c.Backend)
	}
	if c.Backend != ClusterEmbedded {
		for _, k := range []string{"members", "client_listen", "peer_listen", "initial_cluster_state", "peer_tls"} {
			if v.c.src.has("cluster." + k) {
				v.add("cluster."+k, "remove it, or set cluster.backend: embedded", "cluster.%s is set but cluster.backend is %s", k, c.Backend)
			}
		}
	}
	if (c.TLS.Cert == "") != (c.TLS.Key == "") {
		v.add("cluster.tls", "set both cluster.tls.cert and cluster.tls.key, or neither", "a client certificate needs its key")
	}
	for path, f := range map[string]string{"cluster.tls.ca": c.TLS.CA, "cluster.tls.cert": c.TLS.Cert, "cluster.tls.key": c.TLS.Key, "cluster.password_file": c.PasswordFile} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			v.add(path, "check the path", "cannot read %s: %v", f, err)
		}
	}
	if c.PasswordFile != "" && c.Username == "" {
		v.add("cluster.username", "set the etcd user the password belongs to", "cluster.password_file is set without cluster.username")
	}
	if !strings.HasPrefix(c.Prefix, "/") || !strings.HasSuffix(c.Prefix, "/") || strings.Contains(c.Prefix, "//") {
		v.add("cluster.prefix", `start and end it with "/", e.g. "/cutover/shop/"`, "prefix %q is not a key directory", c.Prefix)
	}
	if !clusterNameRE.MatchString(c.Name) {
		v.add("cluster.name", "use letters, digits, '.', '-' or '_' (at most 63), unique in the fleet", "host name %q cannot name a host", c.Name)
	}
	if c.LeaseTTL < MinLeaseTTL {
		v.add("cluster.lease_ttl", "use 2s or more (etcd's minimum); 5s is the default", "lease_ttl %s is too short", c.LeaseTTL.D())
	} else if c.LeaseTTL > Duration(time.Minute) {
		v.add("cluster.lease_ttl", "use at most 1m: a lost host is fenced out only after it", "lease_ttl %s is too long", c.LeaseTTL.D())
	}
}
