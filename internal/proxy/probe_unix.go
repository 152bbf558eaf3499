//go:build unix

package proxy

import (
	"errors"
	"net"
	"syscall"
)

// connAlive reports whether an idle connection is still open: the peer has
// not closed it and has sent nothing unexpected. It peeks without blocking.
func connAlive(c net.Conn) bool {
	if tc, ok := c.(*trackedConn); ok {
		c = tc.Conn
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := true
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case n > 0:
			alive = false // unsolicited bytes: the exchange framing is off
		case n == 0 && err == nil:
			alive = false // orderly shutdown by the peer
		case err != nil && !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EINTR):
			alive = false
		}
		return true
	})
	return err == nil && alive
}
