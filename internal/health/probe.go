package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// MaxBodyExcerpt is the most bytes of a response body kept in a Result.
const MaxBodyExcerpt = 256

// UserAgent is the User-Agent header of HTTP probes.
const UserAgent = "cutover-health"

// Result is the outcome of one probe, or of the last probe of a Gate or a
// Monitor's watch.
type Result struct {
	// Healthy reports whether the probe succeeded.
	Healthy bool
	// Attempts is how many probes the result stands for: 1 for Probe, every
	// probe made by Gate, and the current run of consecutive probes with
	// the same outcome for a Monitor.
	Attempts int
	// Status is the HTTP status code (0 for TCP checks and failed requests).
	Status int
	// Err describes why the probe could not complete ("" when it did).
	Err string
	// Body is an excerpt of the response body, at most MaxBodyExcerpt
	// bytes, with invalid UTF-8 dropped and surrounding space trimmed.
	Body string
	// Duration is how long the probe took.
	Duration time.Duration
}

// Reason describes the last probe for a person, e.g.
// `last probe: status 503, body "db down"` or
// `last probe: dial tcp 127.0.0.1:8080: connect: connection refused`.
func (r Result) Reason() string {
	switch {
	case r.Err != "":
		return "last probe: " + r.Err
	case r.Status != 0 && r.Body != "":
		return fmt.Sprintf("last probe: status %d, body %q", r.Status, r.Body)
	case r.Status != 0:
		return fmt.Sprintf("last probe: status %d", r.Status)
	case r.Healthy:
		return "last probe: connected"
	case r.Attempts == 0:
		return "no probe completed"
	}
	return "last probe: failed"
}

// prober runs one probe of a Check with defaults applied. Probe is the real
// one; tests of timing logic replace it.
type prober func(ctx context.Context, c Check, addr string) Result

// probeClient is shared by all HTTP probes. It keeps no idle connections
// (every probe opens a fresh one, which is also what a real client would
// need), ignores proxy settings from the environment and never follows
// redirects.
var probeClient = &http.Client{
	Transport: &http.Transport{
		Proxy:                  nil,
		DialContext:            (&net.Dialer{}).DialContext,
		DisableKeepAlives:      true,
		DisableCompression:     true,
		MaxResponseHeaderBytes: 64 << 10,
	},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// Probe runs one probe of c (defaults applied) against addr ("host:port"),
// bounded by c.Timeout and ctx. It is safe for concurrent use. An invalid
// Check yields an unhealthy Result whose Err says why.
func Probe(ctx context.Context, c Check, addr string) Result {
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return Result{Attempts: 1, Err: err.Error()}
	}
	start := time.Now()
	pctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	target := probeAddr(addr, c.Port)
	var r Result
	if c.Type == TypeTCP {
		r = probeTCP(pctx, target)
	} else {
		r = probeHTTP(pctx, c, target)
	}
	if r.Err != "" && ctx.Err() == nil && pctx.Err() != nil {
		r.Err = fmt.Sprintf("no answer from %s within %v", target, c.Timeout)
	}
	r.Attempts = 1
	r.Duration = time.Since(start)
	return r
}

// probeAddr returns addr with its port replaced by port when port is set.
func probeAddr(addr string, port int) string {
	if port == 0 {
		return addr
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

func probeTCP(ctx context.Context, addr string) Result {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return Result{Err: err.Error()}
	}
	_ = conn.Close()
	return Result{Healthy: true}
}

func probeHTTP(ctx context.Context, c Check, addr string) Result {
	u := "http://" + addr + c.Path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return Result{Err: err.Error()}
	}
	req.Header.Set("User-Agent", UserAgent)
	if c.Host != "" {
		req.Host = c.Host
	}
	resp, err := probeClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return Result{Err: err.Error()}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, MaxBodyExcerpt))
	return Result{
		Healthy: resp.StatusCode >= c.StatusMin && resp.StatusCode <= c.StatusMax,
		Status:  resp.StatusCode,
		Body:    strings.TrimSpace(strings.ToValidUTF8(string(b), "")),
	}
}
