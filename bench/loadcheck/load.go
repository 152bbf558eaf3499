package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrBadOptions reports invalid Options.
var ErrBadOptions = errors.New("invalid options")

// requestBody is sent with every POST.
var requestBody = bytes.Repeat([]byte("x"), 64)

// Options configures Run. The zero value is not usable: URL, Duration and
// Workers must be set.
type Options struct {
	// URL is the target, e.g. "http://127.0.0.1:8081/".
	URL string
	// Duration is how long new requests are started.
	Duration time.Duration
	// Workers is the number of concurrent request loops.
	Workers int
	// FreshShare is the share (0..1) of workers that use a new connection per
	// request; the others reuse keep-alive connections.
	FreshShare float64
	// Timeout bounds one request (default 10s).
	Timeout time.Duration
}

func (o *Options) validate() error {
	u, err := url.Parse(o.URL)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("%w: url %q: want http://host:port/path", ErrBadOptions, o.URL)
	case o.Duration <= 0:
		return fmt.Errorf("%w: duration must be > 0", ErrBadOptions)
	case o.Workers <= 0:
		return fmt.Errorf("%w: c (workers) must be > 0", ErrBadOptions)
	case o.FreshShare < 0 || o.FreshShare > 1:
		return fmt.Errorf("%w: fresh must be within 0..1", ErrBadOptions)
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	return nil
}

// Result is what Run counted. Failed = NonOK + Errors + BadBody.
type Result struct {
	Total     int64            `json:"total"`
	Failed    int64            `json:"failed"`
	NonOK     int64            `json:"non_2xx"`
	Errors    int64            `json:"errors"`
	BadBody   int64            `json:"bad_body"`
	Status    map[string]int64 `json:"status,omitempty"`
	ErrorKind map[string]int64 `json:"error_kinds,omitempty"`
	Backends  map[string]int64 `json:"backends"`
	Seconds   float64          `json:"seconds"`
	RPS       float64          `json:"rps"`
	KeepAlive int              `json:"keepalive_workers"`
	Fresh     int              `json:"fresh_workers"`
}

func (r *Result) merge(o *Result) {
	r.Total += o.Total
	r.NonOK += o.NonOK
	r.Errors += o.Errors
	r.BadBody += o.BadBody
	for _, m := range []struct{ dst, src *map[string]int64 }{
		{&r.Status, &o.Status}, {&r.ErrorKind, &o.ErrorKind}, {&r.Backends, &o.Backends},
	} {
		if *m.dst == nil {
			*m.dst = map[string]int64{}
		}
		for k, v := range *m.src {
			(*m.dst)[k] += v
		}
	}
}

// Run sends load for o.Duration (or until ctx is done), waits for the requests
// in flight, and returns the counts.
func Run(ctx context.Context, o Options) (Result, error) {
	if err := o.validate(); err != nil {
		return Result{}, err
	}
	fresh := int(math.Round(float64(o.Workers) * o.FreshShare))
	keep := newTransport(false, o.Workers)
	defer keep.CloseIdleConnections()
	once := newTransport(true, 0)
	defer once.CloseIdleConnections()

	stop := time.Now().Add(o.Duration)
	start := time.Now()
	results := make([]Result, o.Workers)
	var wg sync.WaitGroup
	for i := range o.Workers {
		tr := keep
		if i < fresh {
			tr = once
		}
		client := &http.Client{Transport: tr, Timeout: o.Timeout}
		wg.Go(func() { results[i] = worker(ctx, client, o.URL, stop) })
	}
	wg.Wait()
	total := Result{KeepAlive: o.Workers - fresh, Fresh: fresh}
	for i := range results {
		total.merge(&results[i])
	}
	total.Failed = total.NonOK + total.Errors + total.BadBody
	total.Seconds = time.Since(start).Seconds()
	if total.Seconds > 0 {
		total.RPS = math.Round(float64(total.Total) / total.Seconds)
	}
	return total, nil
}

func newTransport(fresh bool, idle int) *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		DisableKeepAlives:   fresh,
		MaxIdleConns:        idle,
		MaxIdleConnsPerHost: idle,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
}

func worker(ctx context.Context, client *http.Client, target string, stop time.Time) Result {
	r := Result{Status: map[string]int64{}, ErrorKind: map[string]int64{}, Backends: map[string]int64{}}
	buf := make([]byte, 0, 256)
	for ctx.Err() == nil && time.Now().Before(stop) {
		r.Total++
		status, backend, err := once(ctx, client, target, &buf)
		switch {
		case err != nil:
			r.Errors++
			r.ErrorKind[errorKind(err)]++
		case status < 200 || status > 299:
			r.NonOK++
			r.Status[strconv.Itoa(status)]++
		case backend == "":
			r.BadBody++
		default:
			r.Backends[backend]++
		}
	}
	return r
}

// once sends one POST whose body cannot be replayed, so the transport never
// retries it.
func once(ctx context.Context, client *http.Client, target string, buf *[]byte) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, io.NopCloser(bytes.NewReader(requestBody)))
	if err != nil {
		return 0, "", err
	}
	req.ContentLength = int64(len(requestBody))
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := readAll(resp.Body, buf)
	if err != nil {
		return 0, "", fmt.Errorf("read body: %w", err)
	}
	return resp.StatusCode, backendName(b), nil
}

func readAll(r io.Reader, buf *[]byte) ([]byte, error) {
	w := bytes.NewBuffer((*buf)[:0])
	_, err := w.ReadFrom(r)
	*buf = w.Bytes()
	return *buf, err
}

// backendName extracts NAME from a body starting with "backend=NAME ".
func backendName(b []byte) string {
	const prefix = "backend="
	if !bytes.HasPrefix(b, []byte(prefix)) {
		return ""
	}
	rest := b[len(prefix):]
	if i := bytes.IndexByte(rest, ' '); i > 0 {
		return string(rest[:i])
	}
	return ""
}

// errorKind groups transport errors into a few stable labels.
func errorKind(err error) string {
	var ne net.Error
	var oe *net.OpError
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.EPIPE):
		return "broken pipe"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	case strings.Contains(err.Error(), "server closed idle connection"):
		return "server closed idle connection"
	case errors.As(err, &oe):
		return oe.Op
	}
	return "other"
}
