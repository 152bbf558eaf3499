package demo

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// fleetLoad sends requests to every host in turn, as a round-robin load
// balancer would, and records each response's host, version and times, so
// that the window during which two versions answered is measured rather
// than guessed. Keep-alive workers send only POSTs with a body (Go's
// client never retries those); the others open a new connection per
// request. Any transport error or non-2xx status is a failure.
type fleetLoad struct {
	hosts   []string // names, index = host id in samples
	urls    []string
	workers int
	pause   time.Duration

	total, failed atomic.Int64
	mu            sync.Mutex
	samples       []fleetSample
	errs          map[string]int
}

// fleetSample is one successful response.
type fleetSample struct {
	start, end time.Time
	host       int
	version    string
}

func newFleetLoad(hosts, urls []string) *fleetLoad {
	return &fleetLoad{hosts: hosts, urls: urls, workers: 12, pause: 2 * time.Millisecond, errs: map[string]int{}}
}

// Run sends traffic until ctx is done and returns when every worker stopped.
func (l *fleetLoad) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for w := range l.workers {
		keep := w%2 == 0
		wg.Go(func() { l.worker(ctx, w, keep) })
	}
	wg.Wait()
}

func (l *fleetLoad) worker(ctx context.Context, w int, keep bool) {
	tr := &http.Transport{
		DialContext:       (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		DisableKeepAlives: !keep, MaxIdleConnsPerHost: 2, DisableCompression: true,
	}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 15 * time.Second}
	for n := 0; ctx.Err() == nil; n++ {
		h := (w + n) % len(l.urls)
		l.one(c, h, fmt.Sprintf("/w%d/%d", w, n), keep || n%2 == 0)
		select {
		case <-ctx.Done():
			return
		case <-time.After(l.pause):
		}
	}
}

// one sends one request; it is not bound to the run's context, so a
// request in flight when the load stops completes and is counted.
func (l *fleetLoad) one(c *http.Client, h int, path string, post bool) {
	var req *http.Request
	if post {
		req, _ = http.NewRequest(http.MethodPost, l.urls[h]+path, strings.NewReader(strings.Repeat("x", 256)))
	} else {
		req, _ = http.NewRequest(http.MethodGet, l.urls[h]+path, nil)
	}
	start := time.Now()
	resp, err := c.Do(req)
	l.total.Add(1)
	if err != nil {
		l.fail(h, err.Error())
		return
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	switch {
	case err != nil:
		l.fail(h, "read body: "+err.Error())
		return
	case resp.StatusCode/100 != 2:
		l.fail(h, fmt.Sprintf("status %d", resp.StatusCode))
		return
	}
	s := fleetSample{start: start, end: time.Now(), host: h, version: resp.Header.Get("X-Version")}
	l.mu.Lock()
	l.samples = append(l.samples, s)
	l.mu.Unlock()
}

func (l *fleetLoad) fail(h int, msg string) {
	l.failed.Add(1)
	l.mu.Lock()
	if len(l.errs) < 100 {
		l.errs[l.hosts[h]+": "+msg]++
	}
	l.mu.Unlock()
}

// mark returns how many responses were recorded so far (to look at one
// phase of the demo).
func (l *fleetLoad) mark() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.samples)
}

func (l *fleetLoad) since(i int) []fleetSample {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.samples[i:])
}

// hostsAnswering returns how many hosts answered with version among ss.
func (l *fleetLoad) hostsAnswering(ss []fleetSample, version string) int {
	seen := map[int]bool{}
	for _, s := range ss {
		if s.version == version {
			seen[s.host] = true
		}
	}
	return len(seen)
}

// perHostVersion counts responses by host name and version.
func (l *fleetLoad) perHostVersion() map[string]map[string]int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]map[string]int64{}
	for _, s := range l.samples {
		name := l.hosts[s.host]
		if out[name] == nil {
			out[name] = map[string]int64{}
		}
		out[name][s.version]++
	}
	return out
}

// errors returns up to 10 distinct failures with their counts.
func (l *fleetLoad) errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for msg, n := range l.errs {
		out = append(out, fmt.Sprintf("%s (x%d)", msg, n))
	}
	slices.Sort(out)
	if len(out) > 10 {
		out = out[:10]
	}
	return out
}

// HostSwitch is when the load saw one host change version, relative to
// the commit (negative: before it, by the clock of this machine).
type HostSwitch struct {
	// LastOld is when the last request answered by the old version began.
	LastOld time.Duration `json:"last_old_ns"`
	// FirstNew is when the first response by the new version ended.
	FirstNew time.Duration `json:"first_new_ns"`
	// Mixed is how long this host still answered with the old version
	// after any host had answered with the new one (0 if it never did).
	Mixed time.Duration `json:"mixed_ns"`
}

// switchWindow measures, in ss, the switch from old to new: per host, and
// the fleet's mixed window (the largest per-host one: from the first
// response by new anywhere to the start of the last request answered by
// old anywhere). ok is false when some host never answered with new.
func (l *fleetLoad) switchWindow(ss []fleetSample, old, new string, commit time.Time) (map[string]HostSwitch, time.Duration, bool) {
	firstNew := map[int]time.Time{}
	lastOld := map[int]time.Time{}
	var fleetFirstNew time.Time
	for _, s := range ss {
		switch s.version {
		case new:
			if t, ok := firstNew[s.host]; !ok || s.end.Before(t) {
				firstNew[s.host] = s.end
			}
			if fleetFirstNew.IsZero() || s.end.Before(fleetFirstNew) {
				fleetFirstNew = s.end
			}
		case old:
			if s.start.After(lastOld[s.host]) {
				lastOld[s.host] = s.start
			}
		}
	}
	out := map[string]HostSwitch{}
	var window time.Duration
	for h, name := range l.hosts {
		fn, ok := firstNew[h]
		if !ok {
			return out, 0, false
		}
		hs := HostSwitch{FirstNew: fn.Sub(commit)}
		if lo, ok := lastOld[h]; ok {
			hs.LastOld = lo.Sub(commit)
			hs.Mixed = max(lo.Sub(fleetFirstNew), 0)
		}
		window = max(window, hs.Mixed)
		out[name] = hs
	}
	return out, window, true
}
