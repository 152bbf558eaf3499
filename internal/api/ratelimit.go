package api

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Defaults of the failed-token limiter.
const (
	// DefaultAuthBurst is how many failed token attempts a client IP may
	// make before it is slowed down.
	DefaultAuthBurst = 5
	// DefaultAuthRate is how many further failed attempts per second a
	// client IP regains once its burst is spent.
	DefaultAuthRate = 1.0
	// maxTrackedClients bounds the limiter's memory: beyond it, clients
	// whose bucket has refilled are forgotten.
	maxTrackedClients = 4096
)

// authLimiter rate-limits failed token attempts per client IP with a token
// bucket: each failure takes a token; a client without one gets 429 and a
// Retry-After header until the bucket refills. Successful requests cost
// nothing. It is safe for concurrent use.
type authLimiter struct {
	rate  rate.Limit
	burst int
	now   func() time.Time

	mu      sync.Mutex
	clients map[string]*rate.Limiter
}

func newAuthLimiter(perSecond float64, burst int, now func() time.Time) *authLimiter {
	return &authLimiter{rate: rate.Limit(perSecond), burst: burst, now: now, clients: map[string]*rate.Limiter{}}
}

// retryAfter returns how long ip must wait before its next attempt is
// heard (0: it may try now).
func (l *authLimiter) retryAfter(ip string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.clients[ip]
	if !ok {
		return 0
	}
	tokens := lim.TokensAt(l.now())
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) / float64(l.rate) * float64(time.Second))
}

// fail records a failed attempt of ip.
func (l *authLimiter) fail(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	lim, ok := l.clients[ip]
	if !ok {
		if len(l.clients) >= maxTrackedClients {
			l.forgetRefilled(now)
		}
		lim = rate.NewLimiter(l.rate, l.burst)
		l.clients[ip] = lim
	}
	lim.AllowN(now, 1)
}

// forgetRefilled drops the clients whose bucket is full again.
func (l *authLimiter) forgetRefilled(now time.Time) {
	for ip, lim := range l.clients {
		if lim.TokensAt(now) >= float64(l.burst) {
			delete(l.clients, ip)
		}
	}
}

// clientIP returns the host part of r.RemoteAddr.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// retryAfterSeconds formats d for a Retry-After header: whole seconds,
// rounded up, at least 1.
func retryAfterSeconds(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}
