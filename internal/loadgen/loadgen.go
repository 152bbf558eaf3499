// Package loadgen sends concurrent HTTP traffic and counts every failure.
//
// It exists to prove zero-downtime claims, so it never lets a failure hide:
// requests over reused keep-alive connections are POSTs with a body (Go's
// http.Transport never retries those), and GETs go over fresh connections
// (a request on a new connection is never retried either). A request counts
// as failed on any transport error or any status other than 2xx.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Options configures a Load.
type Options struct {
	// URL is the base URL (required), e.g. "http://127.0.0.1:8000".
	URL string
	// Workers is the number of concurrent clients (default 16). Half reuse
	// keep-alive connections, half open a new connection per request.
	Workers int
	// SlowEvery makes every Nth request of a worker a slow one (GET or POST
	// to SlowPath); 0 disables slow requests.
	SlowEvery int
	// SlowPath is the path of slow requests (default "/slow?ms=1200").
	SlowPath string
	// Pause is the pause between a worker's requests (default 0).
	Pause time.Duration
	// Timeout bounds one request (default 15s).
	Timeout time.Duration
	// Host, if set, is sent as the Host header.
	Host string
}

// Load is a running or finished traffic generator. Its methods are safe for
// concurrent use.
type Load struct {
	opts    Options
	total   atomic.Int64
	failed  atomic.Int64
	refused atomic.Int64
	mu      sync.Mutex
	per     map[string]int64
	errs    map[string]int
	slow    map[string]int64 // version → completed slow requests
}

// New returns a Load; call Run to send traffic.
func New(opts Options) *Load {
	if opts.Workers <= 0 {
		opts.Workers = 16
	}
	if opts.SlowPath == "" {
		opts.SlowPath = "/slow?ms=1200"
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 15 * time.Second
	}
	return &Load{opts: opts, per: map[string]int64{}, errs: map[string]int{}, slow: map[string]int64{}}
}

// Run sends traffic until ctx is done and returns when every worker stopped.
func (l *Load) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for i := range l.opts.Workers {
		keepAlive := i%2 == 0
		wg.Go(func() { l.worker(ctx, i, keepAlive) })
	}
	wg.Wait()
}

func newClient(keepAlive bool, timeout time.Duration) *http.Client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		DisableKeepAlives:   !keepAlive,
		MaxIdleConnsPerHost: 4,
		DisableCompression:  true,
	}
	return &http.Client{Transport: tr, Timeout: timeout}
}

func (l *Load) worker(ctx context.Context, id int, keepAlive bool) {
	c := newClient(keepAlive, l.opts.Timeout)
	defer c.CloseIdleConnections()
	for n := 0; ; n++ {
		if ctx.Err() != nil {
			return
		}
		path := fmt.Sprintf("/w%d/%d", id, n)
		slow := l.opts.SlowEvery > 0 && n%l.opts.SlowEvery == l.opts.SlowEvery-1
		if slow {
			path = l.opts.SlowPath
		}
		// Keep-alive workers only POST (never retried); fresh-connection
		// workers alternate GET and POST.
		post := keepAlive || n%2 == 0
		l.one(ctx, c, path, post, slow)
		if l.opts.Pause > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(l.opts.Pause):
			}
		}
	}
}

func (l *Load) one(ctx context.Context, c *http.Client, path string, post, slow bool) {
	var req *http.Request
	var err error
	// Requests are not bound to ctx: a request in flight when the load
	// stops completes, so stopping never counts as a failure.
	if post {
		req, err = http.NewRequest(http.MethodPost, l.opts.URL+path, strings.NewReader(strings.Repeat("x", 512)))
	} else {
		req, err = http.NewRequest(http.MethodGet, l.opts.URL+path, nil)
	}
	if err != nil {
		l.fail(err.Error())
		return
	}
	if l.opts.Host != "" {
		req.Host = l.opts.Host
	}
	resp, err := c.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			l.refused.Add(1)
		}
		l.fail(err.Error())
		return
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		l.fail("read body: " + err.Error())
		return
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		l.fail(fmt.Sprintf("status %d", resp.StatusCode))
		return
	}
	l.total.Add(1)
	v := resp.Header.Get("X-Version")
	l.mu.Lock()
	l.per[v]++
	if slow {
		l.slow[v]++
	}
	l.mu.Unlock()
}

func (l *Load) fail(msg string) {
	l.total.Add(1)
	l.failed.Add(1)
	l.mu.Lock()
	if len(l.errs) < 100 {
		l.errs[msg]++
	}
	l.mu.Unlock()
}

// Totals returns requests sent, requests failed, successes per version (from
// the X-Version response header) and up to 10 distinct failure messages.
func (l *Load) Totals() (total, failed int64, perVersion map[string]int64, errs []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	per := make(map[string]int64, len(l.per))
	for k, v := range l.per {
		per[k] = v
	}
	for msg, n := range l.errs {
		if len(errs) == 10 {
			break
		}
		errs = append(errs, fmt.Sprintf("%s (x%d)", msg, n))
	}
	return l.total.Load(), l.failed.Load(), per, errs
}

// Refused returns how many of the failed requests found no listener (the
// connection was refused).
func (l *Load) Refused() int64 { return l.refused.Load() }

// Slow returns completed slow requests per version.
func (l *Load) Slow() map[string]int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]int64, len(l.slow))
	for k, v := range l.slow {
		out[k] = v
	}
	return out
}
