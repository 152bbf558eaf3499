package etcdtest

import (
	"io"
	"net"
	"sync"
	"testing"
)

// FaultProxy is a TCP proxy between a client and one endpoint that can cut
// the client off for real: Blackhole stops forwarding (connections stay
// open and silent, as behind a dropped route), Heal forwards again.
type FaultProxy struct {
	target string
	l      net.Listener

	mu     sync.Mutex
	cond   *sync.Cond
	holed  bool
	conns  map[net.Conn]bool
	closed bool
	wg     sync.WaitGroup
}

// ListenFaultProxy starts a proxy on 127.0.0.1 forwarding to target
// (host:port); it is closed when the test ends.
func ListenFaultProxy(t testing.TB, target string) *FaultProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &FaultProxy{target: target, l: l, conns: map[net.Conn]bool{}}
	p.cond = sync.NewCond(&p.mu)
	p.wg.Go(p.accept)
	t.Cleanup(p.Close)
	return p
}

// Addr returns the proxy's address.
func (p *FaultProxy) Addr() string { return p.l.Addr().String() }

// Blackhole stops forwarding in both directions on every connection, new
// and existing; nothing is closed.
func (p *FaultProxy) Blackhole() {
	p.mu.Lock()
	p.holed = true
	p.mu.Unlock()
}

// Heal forwards again. Connections opened meanwhile are served; bytes
// held while cut off are delivered late, as after a healed partition.
func (p *FaultProxy) Heal() {
	p.mu.Lock()
	p.holed = false
	p.cond.Broadcast()
	p.mu.Unlock()
}

// CloseAll closes every proxied connection (the listener stays).
func (p *FaultProxy) CloseAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
	}
}

// Close stops the proxy and closes its connections.
func (p *FaultProxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.holed = false
	p.cond.Broadcast()
	p.mu.Unlock()
	_ = p.l.Close()
	p.CloseAll()
	p.wg.Wait()
}

func (p *FaultProxy) accept() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.wg.Go(func() { p.serve(c) })
	}
}

func (p *FaultProxy) track(c net.Conn, on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on {
		p.conns[c] = true
	} else {
		delete(p.conns, c)
	}
}

func (p *FaultProxy) serve(c net.Conn) {
	p.track(c, true)
	defer p.track(c, false)
	defer c.Close()
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	p.track(up, true)
	defer p.track(up, false)
	defer up.Close()
	var wg sync.WaitGroup
	wg.Go(func() { p.pipe(up, c); _ = up.Close() })
	wg.Go(func() { p.pipe(c, up); _ = c.Close() })
	wg.Wait()
}

// pipe copies src to dst, holding every chunk while the proxy is cut off.
func (p *FaultProxy) pipe(dst io.Writer, src io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.holed && !p.closed {
				p.cond.Wait()
			}
			closed := p.closed
			p.mu.Unlock()
			if closed {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
