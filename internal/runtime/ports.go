package runtime

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// ErrNoFreePort reports that every port of a service's pool is taken, either
// by one of its own instances or by another program on the host.
var ErrNoFreePort = errors.New("no free port")

// DefaultHost is the address instances listen on when a service sets none.
const DefaultHost = "127.0.0.1"

// PickPort returns the first port of pool that is not in inUse and that can
// be bound on host right now (checked by listening and closing at once).
// An empty host means DefaultHost. When no port qualifies the error wraps
// ErrNoFreePort and lists each port of the pool with what holds it.
//
// The check is a snapshot: another program may take the port before the
// instance binds it, which the instance's health gate then reveals.
// PickPort is safe for concurrent use, but two concurrent callers may pick
// the same port unless they share inUse under their own lock.
func PickPort(pool []int, inUse map[int]bool, host string) (int, error) {
	if host == "" {
		host = DefaultHost
	}
	if len(pool) == 0 {
		return 0, fmt.Errorf("%w: the service has no ports configured; set ports or port_range", ErrNoFreePort)
	}
	held := make([]string, 0, len(pool))
	for _, port := range pool {
		if inUse[port] {
			held = append(held, fmt.Sprintf("%d held by a cutover instance", port))
			continue
		}
		if err := probeBind(host, port); err != nil {
			held = append(held, fmt.Sprintf("%d busy (%v)", port, err))
			continue
		}
		return port, nil
	}
	return 0, fmt.Errorf("%w on %s in pool %v: %s; add ports to the pool or free one",
		ErrNoFreePort, host, pool, strings.Join(held, ", "))
}

// probeBind listens on host:port and closes the listener at once.
func probeBind(host string, port int) error {
	if port <= 0 || port > 65535 {
		return fmt.Errorf("port %d out of range 1-65535", port)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		var opErr *net.OpError
		if errors.As(err, &opErr) && opErr.Err != nil {
			return opErr.Err
		}
		return err
	}
	return ln.Close()
}
