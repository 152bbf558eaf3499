package health

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

type change struct {
	id      string
	healthy bool
	at      time.Duration // since the test's start
	r       Result
}

// recorder collects OnChange calls.
type recorder struct {
	start time.Time
	mu    sync.Mutex
	got   []change
}

func (rec *recorder) onChange(id string, healthy bool, r Result) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.got = append(rec.got, change{id, healthy, time.Since(rec.start), r})
}

func (rec *recorder) changes() []change {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]change(nil), rec.got...)
}

// newTestMonitor returns a monitor using p and recording into a recorder.
func newTestMonitor(p prober, log *slog.Logger) (*Monitor, *recorder) {
	rec := &recorder{start: time.Now()}
	m := NewMonitor(MonitorOptions{Logger: log, OnChange: rec.onChange})
	m.probe = p
	return m, rec
}

func TestMonitorTransitions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &switchProber{ok: true}
		var logs bytes.Buffer
		m, rec := newTestMonitor(p.probe, slog.New(slog.NewTextHandler(&logs, nil)))
		defer m.Close()
		m.Watch("web-v1", "app:80", Check{Interval: time.Second}, true)

		time.Sleep(500 * time.Millisecond) // probe at 0s: ok
		p.set(false)                       // probes at 1s, 2s, 3s fail
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if h, known := m.Healthy("web-v1"); !h || !known {
			t.Fatalf("after 2 failures healthy=%v known=%v", h, known)
		}
		if r, ok := m.Last("web-v1"); !ok || r.Healthy || r.Attempts != 2 || r.Status != 500 {
			t.Fatalf("Last = %+v, %v", r, ok)
		}
		time.Sleep(time.Second) // 3.5s
		synctest.Wait()
		if h, _ := m.Healthy("web-v1"); h {
			t.Fatal("still healthy after 3 failures")
		}
		p.set(true) // probes at 4s, 5s succeed
		time.Sleep(time.Second)
		synctest.Wait()
		if h, _ := m.Healthy("web-v1"); h {
			t.Fatal("healthy after 1 success")
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if h, _ := m.Healthy("web-v1"); !h {
			t.Fatal("not healthy after 2 successes")
		}

		got := rec.changes()
		if len(got) != 2 {
			t.Fatalf("changes = %+v", got)
		}
		if c := got[0]; c.id != "web-v1" || c.healthy || c.at != 3*time.Second || c.r.Attempts != 3 || c.r.Body != "boom" {
			t.Errorf("first change = %+v", c)
		}
		if c := got[1]; c.healthy != true || c.at != 5*time.Second || c.r.Attempts != 2 {
			t.Errorf("second change = %+v", c)
		}
		if !strings.Contains(logs.String(), `msg="target unhealthy" target=web-v1 addr=app:80 probes=3 reason="last probe: status 500, body \"boom\""`) {
			t.Errorf("logs:\n%s", logs.String())
		}
	})
}

func TestMonitorInitiallyUnhealthy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &switchProber{ok: true}
		m, rec := newTestMonitor(p.probe, nil)
		defer m.Close()
		if _, ok := m.Last("x"); ok {
			t.Fatal("Last of unknown target")
		}
		m.Watch("x", "app:80", Check{Interval: 2 * time.Second, HealthyThreshold: 3}, false)
		synctest.Wait()
		if h, known := m.Healthy("x"); h || !known {
			t.Fatalf("healthy=%v known=%v", h, known)
		}
		time.Sleep(5 * time.Second) // probes at 0, 2, 4
		synctest.Wait()
		got := rec.changes()
		if len(got) != 1 || !got[0].healthy || got[0].at != 4*time.Second {
			t.Fatalf("changes = %+v", got)
		}
	})
}

func TestMonitorUnwatchAndReplace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &switchProber{ok: false}
		m, rec := newTestMonitor(p.probe, nil)
		defer m.Close()
		m.Watch("a", "app:80", Check{Interval: time.Second, UnhealthyThreshold: 5}, true)
		time.Sleep(2500 * time.Millisecond) // 3 failures
		// Replacing resets the state: 5 more failures are needed.
		m.Watch("a", "app:81", Check{Interval: time.Second, UnhealthyThreshold: 5}, true)
		time.Sleep(3500 * time.Millisecond) // 4 failures of the new watch
		synctest.Wait()
		if h, _ := m.Healthy("a"); !h {
			t.Fatal("replaced watch kept the old failures")
		}
		if len(rec.changes()) != 0 {
			t.Fatalf("changes = %+v", rec.changes())
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if got := rec.changes(); len(got) != 1 || got[0].at != 6500*time.Millisecond {
			t.Fatalf("changes = %+v", got)
		}

		m.Unwatch("a")
		m.Unwatch("never-watched")
		synctest.Wait() // the watch's goroutine has ended
		p.mu.Lock()
		calls := p.calls
		p.mu.Unlock()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.calls != calls {
			t.Fatalf("probes after Unwatch: %d -> %d", calls, p.calls)
		}
		if _, known := m.Healthy("a"); known {
			t.Fatal("unwatched target still known")
		}
	})
}

func TestMonitorOnChangeMayUnwatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &switchProber{ok: false}
		var m *Monitor
		var calls atomic.Int32
		m = NewMonitor(MonitorOptions{OnChange: func(id string, healthy bool, r Result) {
			calls.Add(1)
			m.Unwatch(id)
			m.Watch(id+"-again", "app:80", Check{}, false)
		}})
		m.probe = p.probe
		m.Watch("a", "app:80", Check{Interval: time.Second, UnhealthyThreshold: 1}, true)
		time.Sleep(time.Second)
		synctest.Wait()
		if calls.Load() != 1 {
			t.Fatalf("OnChange calls = %d", calls.Load())
		}
		if _, known := m.Healthy("a-again"); !known {
			t.Fatal("watch added from OnChange is missing")
		}
		m.Close()
	})
}

func TestMonitorCloseStopsEverything(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A slow OnChange is still running when Close is called: Close
		// waits for it.
		release := make(chan struct{})
		var finished atomic.Bool
		p := &switchProber{ok: false}
		m := NewMonitor(MonitorOptions{OnChange: func(string, bool, Result) {
			<-release
			finished.Store(true)
		}})
		m.probe = p.probe
		for _, id := range []string{"a", "b", "c"} {
			m.Watch(id, "app:80", Check{UnhealthyThreshold: 1}, true)
		}
		synctest.Wait()
		closed := make(chan struct{})
		go func() {
			m.Close()
			close(closed)
		}()
		synctest.Wait()
		select {
		case <-closed:
			t.Fatal("Close returned while OnChange was running")
		default:
		}
		close(release)
		<-closed
		if !finished.Load() {
			t.Fatal("OnChange did not finish")
		}
		if err := m.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		m.Watch("d", "app:80", Check{}, true)
		if _, known := m.Healthy("d"); known {
			t.Fatal("Watch after Close registered a target")
		}
		// synctest.Test fails if any goroutine of the bubble is still alive.
	})
}

// TestMonitorRealServer watches a real server that goes down and comes back,
// then checks that Close leaves no goroutine behind.
func TestMonitorRealServer(t *testing.T) {
	before := runtime.NumGoroutine()
	var failing atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
		}
	}))
	changes := make(chan bool, 4)
	m := NewMonitor(MonitorOptions{OnChange: func(id string, healthy bool, r Result) { changes <- healthy }})
	c := Check{Interval: 5 * time.Millisecond, Timeout: time.Second, HealthyThreshold: 2, UnhealthyThreshold: 2}
	m.Watch("web", serverAddr(srv), c, true)

	wait := func(want bool) {
		t.Helper()
		select {
		case got := <-changes:
			if got != want {
				t.Fatalf("change to healthy=%v, want %v", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no change to healthy=%v", want)
		}
	}
	failing.Store(true)
	wait(false)
	if r, _ := m.Last("web"); r.Status != 503 || r.Body != "maintenance" {
		t.Fatalf("Last = %+v", r)
	}
	failing.Store(false)
	wait(true)

	m.Close()
	srv.Close()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines: %d before, %d after Close\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
