package embedded_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/coord"
	"github.com/cutover-dev/cutover/internal/coord/embedded"
	etcdstore "github.com/cutover-dev/cutover/internal/coord/etcd"
	"github.com/cutover-dev/cutover/internal/testutil"
)

// cluster is n members on loopback with test timings.
type cluster struct {
	t       *testing.T
	opts    []embedded.Options
	members []*embedded.Member
	log     *testutil.SyncBuffer
}

func newCluster(t *testing.T, n int) *cluster {
	t.Helper()
	c := &cluster{t: t, members: make([]*embedded.Member, n), log: &testutil.SyncBuffer{}}
	peers := map[string]string{}
	ports := testutil.FreePorts(t, 2*n)
	for i := range n {
		peers[fmt.Sprintf("m%d", i)] = fmt.Sprintf("http://127.0.0.1:%d", ports[2*i+1])
	}
	for i := range n {
		c.opts = append(c.opts, c.memberOptions(fmt.Sprintf("m%d", i), ports[2*i], peers))
	}
	return c
}

func (c *cluster) memberOptions(name string, clientPort int, peers map[string]string) embedded.Options {
	return embedded.Options{
		Name: name, Dir: c.t.TempDir(), Members: peers,
		ClientListen: fmt.Sprintf("127.0.0.1:%d", clientPort),
		PeerListen:   strings.TrimPrefix(peers[name], "http://"),
		Heartbeat:    50 * time.Millisecond, ElectionTimeout: 500 * time.Millisecond,
		UnsafeNoFsync: true, WaitLogEvery: 200 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(c.log, &slog.HandlerOptions{Level: slog.LevelWarn})).With("member", name),
	}
}

// start starts members idx (all when none given) at once and waits until
// each is ready.
func (c *cluster) start(idx ...int) {
	c.t.Helper()
	if len(idx) == 0 {
		for i := range c.opts {
			idx = append(idx, i)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	errs := make([]error, len(c.opts))
	var wg sync.WaitGroup
	for _, i := range idx {
		wg.Go(func() { c.members[i], errs[i] = embedded.Start(ctx, c.opts[i]) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		c.t.Fatalf("start members %v: %v\n%s", idx, err, c.log)
	}
	for _, i := range idx {
		m := c.members[i]
		c.t.Cleanup(func() { _ = m.Close() })
	}
}

func (c *cluster) stop(i int) {
	c.t.Helper()
	if err := c.members[i].Close(); err != nil {
		c.t.Fatal(err)
	}
}

// store opens a client of member i.
func (c *cluster) store(i int) *etcdstore.Store {
	c.t.Helper()
	st, err := etcdstore.Open(context.Background(), etcdstore.Options{
		Endpoints: []string{c.members[i].ClientURL()}, RequestTimeout: 2 * time.Second,
	})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { _ = st.Close() })
	return st
}

func put(ctx context.Context, st coord.Store, key, value string) error {
	_, err := st.Txn(ctx, coord.Txn{Then: []coord.Op{coord.Put(key, []byte(value))}})
	return err
}

// TestThreeMembersFormACluster: members started together elect a leader;
// a write through one member is read through another.
func TestThreeMembersFormACluster(t *testing.T) {
	c := newCluster(t, 3)
	c.start()
	ctx := context.Background()
	if err := put(ctx, c.store(0), "/t/k", "v"); err != nil {
		t.Fatal(err)
	}
	kv, ok, _, err := c.store(2).Get(ctx, "/t/k")
	if err != nil || !ok || string(kv.Value) != "v" {
		t.Fatalf("read through another member: %q %v %v", kv.Value, ok, err)
	}
	ms, err := c.store(1).Members(ctx)
	if err != nil || len(ms) != 3 {
		t.Fatalf("members: %+v %v", ms, err)
	}
	for i, m := range ms {
		if want := fmt.Sprintf("m%d", i); m.Name != want || m.PeerURLs[0] != c.opts[i].Members[want] {
			t.Errorf("member %d = %+v, want %s at %s", i, m, want, c.opts[i].Members[want])
		}
	}
}

// TestLossOfQuorum: with two of three members stopped, the last one cannot
// commit or renew a lease (ErrUnavailable); once one member is back, the
// cluster commits again and a lease granted before the outage is still
// alive (a new leader extends every lease).
func TestLossOfQuorum(t *testing.T) {
	c := newCluster(t, 3)
	c.start()
	st := c.store(0)
	ctx := context.Background()
	lease, err := st.Grant(ctx, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.stop(1)
	c.stop(2)
	if err := put(ctx, st, "/t/k", "v"); !errors.Is(err, coord.ErrUnavailable) {
		t.Fatalf("write without a quorum: %v, want ErrUnavailable", err)
	}
	if _, err := st.KeepAliveOnce(ctx, lease); !errors.Is(err, coord.ErrUnavailable) {
		t.Fatalf("lease renewal without a quorum: %v, want ErrUnavailable", err)
	}
	// The lease's TTL passed while there was no leader.
	c.start(1)
	if err := put(ctx, st, "/t/k", "v"); err != nil {
		t.Fatalf("write after the quorum is back: %v", err)
	}
	if _, err := st.KeepAliveOnce(ctx, lease); err != nil {
		t.Fatalf("a lease from before the outage: %v, want it extended by the new leader", err)
	}
}

// TestJoinAndRemove: a member added with AddMember joins with state
// existing and the full member list; RemoveMember takes it out again.
func TestJoinAndRemove(t *testing.T) {
	c := newCluster(t, 3)
	c.start()
	ctx := context.Background()
	st := c.store(0)
	ports := testutil.FreePorts(t, 2)
	peer := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	// etcd adds a voting member only once every member has been
	// connected for 5 seconds (its strict reconfiguration check).
	var added etcdstore.Member
	var all []etcdstore.Member
	var err error
	for deadline := time.Now().Add(20 * time.Second); ; {
		added, all, err = st.AddMember(ctx, peer)
		if err == nil || !strings.Contains(err.Error(), "unhealthy cluster") || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond) // retrying a refused request: etcd sends no event when it would accept it
	}
	if err != nil || len(all) != 4 {
		t.Fatalf("add: %+v %v", all, err)
	}
	peers := map[string]string{"m3": peer}
	for k, v := range c.opts[0].Members {
		peers[k] = v
	}
	o := c.memberOptions("m3", ports[0], peers)
	o.State = "existing"
	c.opts = append(c.opts, o)
	c.members = append(c.members, nil)
	c.start(3)
	if err := put(ctx, c.store(3), "/t/joined", "yes"); err != nil {
		t.Fatalf("write through the new member: %v", err)
	}
	ms, err := st.Members(ctx)
	if err != nil || len(ms) != 4 || ms[3].Name != "m3" {
		t.Fatalf("members after the join: %+v %v", ms, err)
	}
	c.stop(3)
	if err := st.RemoveMember(ctx, added.ID); err != nil {
		t.Fatal(err)
	}
	if ms, err := st.Members(ctx); err != nil || len(ms) != 3 {
		t.Fatalf("members after the removal: %+v %v", ms, err)
	}
	// Two of the three remaining members are a quorum again.
	c.stop(2)
	if err := put(ctx, st, "/t/k", "v"); err != nil {
		t.Fatalf("write with 2 of 3 members: %v", err)
	}
}

// TestStartWaitsForQuorum: one member of three alone waits, logging whom
// it waits for, until its context ends.
func TestStartWaitsForQuorum(t *testing.T) {
	c := newCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := embedded.Start(ctx, c.opts[0])
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no quorum") {
		t.Fatalf("start alone: %v", err)
	}
	if !strings.Contains(c.log.String(), "waiting for a quorum of members") {
		t.Errorf("no waiting log:\n%s", c.log)
	}
}

// TestStartBadOptions names the problem.
func TestStartBadOptions(t *testing.T) {
	c := newCluster(t, 1)
	for name, mod := range map[string]func(*embedded.Options){
		"no name":      func(o *embedded.Options) { o.Name = "" },
		"not a member": func(o *embedded.Options) { o.Name = "x" },
		"bad state":    func(o *embedded.Options) { o.State = "joining" },
	} {
		o := c.opts[0]
		mod(&o)
		if _, err := embedded.Start(context.Background(), o); !errors.Is(err, embedded.ErrBadOptions) {
			t.Errorf("%s: %v, want ErrBadOptions", name, err)
		}
	}
}

// TestLogsGoToSlog: the server's warnings reach the logger as "etcd: ..."
// with component=etcd; a start is not noisy.
func TestLogsGoToSlog(t *testing.T) {
	c := newCluster(t, 1)
	c.start()
	c.stop(0)
	out := c.log.String()
	for _, noise := range []string{"single port", "simple token"} {
		if strings.Contains(out, noise) {
			t.Errorf("log has %q:\n%s", noise, out)
		}
	}
	var buf testutil.SyncBuffer
	lg := slog.New(slog.NewTextHandler(io.MultiWriter(&buf), nil))
	o := c.opts[0]
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	o.Logger, o.Dir, o.PeerListen = lg, t.TempDir(), busy.Addr().String() // a port it cannot bind
	o.Members = map[string]string{"m0": "http://" + busy.Addr().String()}
	if _, err := embedded.Start(context.Background(), o); err == nil {
		t.Fatal("start on a port it cannot bind succeeded")
	}
	if !strings.Contains(buf.String(), "component=etcd") {
		t.Errorf("no etcd log line reached slog:\n%s", buf.String())
	}
}
