package main

import (
	"cmp"
	"context"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// record is one probe request: when it was sent and answered (Unix
// nanoseconds, wall clock) and which version answered ("" on failure).
type record struct {
	send, recv int64
	version    string
	ok         bool
}

// prober runs closed-loop probe workers, each on its own keep-alive
// connection, until stop is called. Records are read only after stop.
type prober struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	recs   [][]record // one slice per worker, owned by it until stop
}

// startProber starts n workers sending POST requests to url back to back.
// POST with a body is never retried silently by net/http, so every attempt
// is one record.
func startProber(url string, n int) *prober {
	ctx, cancel := context.WithCancel(context.Background())
	p := &prober{cancel: cancel, recs: make([][]record, n)}
	for i := range n {
		p.wg.Go(func() { p.recs[i] = probeLoop(ctx, url) })
	}
	return p
}

func probeLoop(ctx context.Context, url string) []record {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 1,
		MaxConnsPerHost:     1,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	seen := map[string]string{} // interns version strings
	recs := make([]record, 0, 1<<16)
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader("x"))
		req.Header.Set("Content-Type", "text/plain")
		send := time.Now().UnixNano()
		resp, err := c.Do(req)
		r := record{send: send}
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			v := resp.Header.Get("X-Version")
			if iv, ok := seen[v]; ok {
				v = iv
			} else {
				seen[v] = v
			}
			r.version = v
			r.ok = err == nil && resp.StatusCode == http.StatusOK
		}
		r.recv = time.Now().UnixNano()
		if ctx.Err() != nil && err != nil {
			break // cancelled mid-request: not a failure of the server
		}
		recs = append(recs, r)
	}
	return recs
}

// stop ends the workers and returns every record sorted by send time.
func (p *prober) stop() []record {
	p.cancel()
	p.wg.Wait()
	var all []record
	for _, r := range p.recs {
		all = append(all, r...)
	}
	slices.SortFunc(all, func(a, b record) int { return cmp.Compare(a.send, b.send) })
	return all
}
