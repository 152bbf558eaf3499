package proxy

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// switchBackend answers "<name> <len> <crc>" for the request body; /slow
// first waits for the "ms" query parameter. It records which backend each
// slow request (X-Test-Id) started on.
func switchBackend(t *testing.T, name string, started *sync.Map) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := r.Header.Get("X-Test-Id"); id != "" {
			started.Store(id, name)
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		if r.URL.Path == "/slow" {
			ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
			select {
			case <-time.After(time.Duration(ms) * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
		fmt.Fprintf(w, "%s %d %d", name, len(body), crc32.ChecksumIEEE(body))
	}))
	t.Cleanup(ts.Close)
	return ts
}

// TestSwitchUnderLoad switches the active set 200 times while 32 clients
// send requests, draining each replaced target by count, and requires
// every request to succeed.
func TestSwitchUnderLoad(t *testing.T) {
	t.Parallel()
	const (
		switches = 200
		every    = 40 * time.Millisecond
		clients  = 32
	)
	var started sync.Map
	backends := []*httptest.Server{switchBackend(t, "blue", &started), switchBackend(t, "green", &started)}
	names := []string{"blue", "green"}
	p := newTestProxy(t, Options{})
	spec := func(gen int) ServiceSpec {
		return oneSet("web", names[gen%2], TargetSpec{ID: "gen-" + strconv.Itoa(gen), Addr: addrOf(backends[gen%2])})
	}
	if err := p.Apply([]ServiceSpec{spec(0)}); err != nil {
		t.Fatal(err)
	}
	_, base := startServer(t, p, ServerOptions{})

	var (
		stop               atomic.Bool
		total, slow, fails atomic.Int64
		failMu             sync.Mutex
		failures           []string
	)
	fail := func(format string, args ...any) {
		fails.Add(1)
		failMu.Lock()
		defer failMu.Unlock()
		if len(failures) < 10 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
	}
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		keepAlive := c%2 == 0
		slowClient := c%4 == 1 || c%8 == 2
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := newClient(keepAlive)
			defer client.CloseIdleConnections()
			rng := rand.New(rand.NewPCG(uint64(c), 7))
			for i := 0; !stop.Load(); i++ {
				method, path, body := http.MethodPost, "/", make([]byte, rng.IntN(32<<10))
				for j := 0; j+8 <= len(body); j += 8 {
					binary.LittleEndian.PutUint64(body[j:], rng.Uint64())
				}
				id := ""
				switch {
				case slowClient:
					path = "/slow?ms=" + strconv.Itoa(1000+rng.IntN(1000))
					id = strconv.Itoa(c) + "-" + strconv.Itoa(i)
				case !keepAlive && i%2 == 0:
					// Fresh connections cannot be retried by the client, so GET is safe to count.
					method, body = http.MethodGet, nil
				}
				req, _ := http.NewRequest(method, base+path, bytes.NewReader(body))
				if id != "" {
					req.Header.Set("X-Test-Id", id)
				}
				resp, err := client.Do(req)
				total.Add(1)
				if err != nil {
					fail("%s %s: %v", method, path, err)
					continue
				}
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 {
					fail("%s %s: %d %q %v", method, path, resp.StatusCode, got, err)
					continue
				}
				var name string
				var n int
				var sum uint32
				if _, err := fmt.Sscanf(string(got), "%s %d %d", &name, &n, &sum); err != nil || n != len(body) || sum != crc32.ChecksumIEEE(body) {
					fail("%s %s: body %q does not match the request", method, path, got)
					continue
				}
				if id != "" {
					slow.Add(1)
					if first, _ := started.Load(id); first != name {
						fail("slow request %s started on %v, completed on %s", id, first, name)
					}
				}
			}
		}()
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var drains sync.WaitGroup
	var cut atomic.Int64
	tick := time.NewTicker(every)
	for gen := 1; gen <= switches; gen++ {
		<-tick.C
		if err := p.UpdateService(spec(gen)); err != nil {
			t.Fatal(err)
		}
		drains.Add(1)
		go func(id string) {
			defer drains.Done()
			res, err := p.Drain(ctx, id, 10*time.Second)
			if err != nil {
				t.Errorf("drain %s: %v", id, err)
			}
			cut.Add(int64(res.Cut))
		}("gen-" + strconv.Itoa(gen-1))
	}
	tick.Stop()
	stop.Store(true)
	wg.Wait()
	drains.Wait()

	t.Logf("%d requests (%d slow) across %d switches", total.Load(), slow.Load(), switches)
	if fails.Load() != 0 {
		t.Fatalf("%d failed requests, first: %v", fails.Load(), failures)
	}
	if slow.Load() < 20 || total.Load() < 400 {
		t.Fatalf("too little load: %d requests, %d slow", total.Load(), slow.Load())
	}
	if cut.Load() != 0 {
		t.Fatalf("drains cut %d requests", cut.Load())
	}
	p.mu.Lock()
	known := len(p.targets)
	p.mu.Unlock()
	if known != 1 {
		t.Fatalf("%d targets known after draining all old generations, want 1", known)
	}
}
