//go:build unix

package proxy

import (
	"errors"
	"net"
	"syscall"
)

// prober peeks at an idle connection without blocking. It is set up once
// per connection so that probing does not allocate.
type prober struct {
	raw   syscall.RawConn
	alive bool
	buf   [1]byte
	peek  func(fd uintptr) bool
}

func newProber(c net.Conn) *prober {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	p := &prober{raw: raw}
	p.peek = func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), p.buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case n > 0:
			p.alive = false // unsolicited bytes: the exchange framing is off
		case n == 0 && err == nil:
			p.alive = false // orderly shutdown by the peer
		case err != nil && !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EINTR):
			p.alive = false
		}
		return true
	}
	return p
}

// connAlive reports whether an idle connection is still open: the peer has
// not closed it and has sent nothing unexpected.
func (c *upConn) connAlive() bool {
	if c.probe == nil {
		if c.probe = newProber(c.nc.(*trackedConn).Conn); c.probe == nil {
			return true
		}
	}
	c.probe.alive = true
	err := c.probe.raw.Read(c.probe.peek)
	return err == nil && c.probe.alive
}
