//go:build !unix

package proxy

// prober is not available on this platform.
type prober struct{}

// connAlive reports true: without a non-blocking peek the first read on a
// reused connection detects a closed one.
func (c *upConn) connAlive() bool { return true }
