package demo

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// belowEphemeralPorts returns n distinct free loopback ports below the
// kernel's ephemeral port range: the many-hosts demo binds its ports in
// several processes some time after it picks them, and meanwhile the
// outgoing connections of etcd and of the load take ephemeral ports, which
// could be one it picked. Where the range is unknown it lets the kernel
// pick (freePorts).
func belowEphemeralPorts(n int) ([]int, error) {
	low := ephemeralLow()
	if low < 12000 {
		return freePorts(n)
	}
	// A random start, so that two demos at once rarely try the same ports.
	next := low - 10000 + rand.IntN(6000)
	var out []int
	for p := next; len(out) < n && p < low; p++ {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		l.Close()
		out = append(out, p)
	}
	if len(out) < n {
		return freePorts(n)
	}
	return out, nil
}

// ephemeralLow is the first port of Linux's ephemeral range (0 if unknown).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[0])
	return n
}
