package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// record is one probe request to one host's proxy: when it was sent and
// answered (Unix nanoseconds, wall clock), and which version answered.
type record struct {
	send, recv int64
	host       int
	version    string
	ok         bool
}

// prober runs closed-loop workers that send POST requests to every
// host's proxy in turn, each worker on one keep-alive connection per
// host, until stop is called: what clients behind a load balancer that
// spreads requests evenly would see.
type prober struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	recs   [][]record // one slice per worker, owned by it until stop
}

func startProber(addrs []string, workers int) *prober {
	ctx, cancel := context.WithCancel(context.Background())
	p := &prober{cancel: cancel, recs: make([][]record, workers)}
	for w := range workers {
		p.wg.Go(func() { p.recs[w] = probeLoop(ctx, addrs, w*len(addrs)/workers) })
	}
	return p
}

func probeLoop(ctx context.Context, addrs []string, first int) []record {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 1,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	urls := make([]string, len(addrs))
	for i, a := range addrs {
		urls[i] = "http://" + a + "/probe"
	}
	seen := map[string]string{} // interns version strings
	recs := make([]record, 0, 1<<16)
	for i := first; ctx.Err() == nil; i++ {
		h := i % len(urls)
		// A POST with a body is never retried silently by net/http: one
		// attempt is one record.
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, urls[h], strings.NewReader("x"))
		req.Header.Set("Content-Type", "text/plain")
		r := record{send: time.Now().UnixNano(), host: h}
		resp, err := c.Do(req)
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

// writeRecords writes the probe's requests as CSV: send and receive time
// (Unix ns), host name, version, ok.
func writeRecords(path string, recs []record, hosts []*host) error {
	var b strings.Builder
	b.WriteString("send_ns,recv_ns,host,version,ok\n")
	for _, r := range recs {
		fmt.Fprintf(&b, "%d,%d,%s,%s,%t\n", r.send, r.recv, hosts[r.host].name, r.version, r.ok)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// crossing is what the probe saw of one switch from old to new.
type crossing struct {
	// MixedNS is how long both versions answered: from the answer of the
	// first request the new version served to the sending of the last
	// request the old version served (0 when every old answer was sent
	// before the first new answer arrived).
	MixedNS  int64 `json:"mixed_ns"`
	Requests int   `json:"requests"`
	Failures int   `json:"failures"`
	// Seen reports that both versions answered within the window.
	Seen bool `json:"seen"`
	// PauseNS is the longest time without a probe request sent while the
	// hosts switched (between the first and the last routing publish): the
	// probe's blind spot.
	PauseNS int64 `json:"pause_ns"`
}

// findCrossing looks at the records sent in [from, to).
func findCrossing(recs []record, from, to int64, old, new string) crossing {
	var c crossing
	var firstNewRecv, lastOldSend int64
	var sawOld, sawNew bool
	for _, r := range recs {
		if r.send < from || r.send >= to {
			continue
		}
		c.Requests++
		if !r.ok {
			c.Failures++
			continue
		}
		switch r.version {
		case new:
			if !sawNew || r.recv < firstNewRecv {
				firstNewRecv = r.recv
			}
			sawNew = true
		case old:
			if r.send > lastOldSend {
				lastOldSend = r.send
			}
			sawOld = true
		}
	}
	c.Seen = sawOld && sawNew
	if c.Seen && lastOldSend > firstNewRecv {
		c.MixedNS = lastOldSend - firstNewRecv
	}
	return c
}

// longestPause returns the longest interval between two consecutive sends
// (recs sorted by send time) that overlaps [from, to].
func longestPause(recs []record, from, to int64) int64 {
	var longest int64
	prev := int64(0)
	for _, r := range recs {
		if prev != 0 && r.send >= from && prev <= to {
			longest = max(longest, r.send-prev)
		}
		if prev > to {
			break
		}
		prev = r.send
	}
	return longest
}

// hostGaps returns, in µs, the gaps between consecutive requests to the
// same host: how finely the probe samples each host.
func hostGaps(recs []record, hosts int) []float64 {
	last := make([]int64, hosts)
	var out []float64
	for _, r := range recs {
		if r.host < hosts {
			if last[r.host] != 0 {
				out = append(out, float64(r.send-last[r.host])/1e3)
			}
			last[r.host] = r.send
		}
	}
	return out
}
