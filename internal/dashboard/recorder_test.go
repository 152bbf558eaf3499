package dashboard

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/metrics"
)

// readSamples opens the traffic stream at url and returns a function that
// reads the next sample.
func readSamples(t *testing.T, ctx context.Context, url string) func() Sample {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	return func() Sample {
		t.Helper()
		if !sc.Scan() {
			t.Fatalf("the stream ended: %v", sc.Err())
		}
		var s Sample
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		return s
	}
}

func pointOf(s Sample, service, version string) (Point, bool) {
	for _, p := range s.Points {
		if p.Service == service && p.Version == version {
			return p, true
		}
	}
	return Point{}, false
}

func TestRecorderStreamsAndReplaysSeconds(t *testing.T) {
	reg := metrics.NewRegistry(metrics.Options{})
	rec := NewRecorder(RecorderOptions{Registry: reg, Services: func() []string { return []string{"web"} }})
	rec.Start(context.Background())
	defer rec.Close()
	srv := httptest.NewServer(rec)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	s1 := reg.Series("web", "v1")
	for range 10 {
		s1.Observe(200, false, 2*time.Millisecond)
	}
	s1.Observe(502, true, time.Millisecond)
	next := readSamples(t, ctx, srv.URL+"?history=0")
	var got Point
	for {
		s := next()
		if p, ok := pointOf(s, "web", "v1"); ok {
			got = p
			if len(s.Window) != 1 || s.Window[0].Requests != 11 || s.Window[0].ErrorRate <= 0 {
				t.Errorf("window %+v, want one of v1 with 11 requests and errors", s.Window)
			}
			break
		}
	}
	if got.Requests != 11 || got.Errors != 1 || got.P50 < 1 || got.P50 > 3 {
		t.Errorf("point %+v, want 11 requests, 1 error, p50 ≈ 2 ms", got)
	}

	// The registry forgets a retired version; the recorder does not.
	reg.Remove("web", "v1")
	replay := readSamples(t, ctx, srv.URL+"?history=60")
	found := false
	for {
		s := replay()
		if _, ok := pointOf(s, "web", "v1"); ok {
			found = true
		}
		if s.Window != nil {
			break // the last replayed sample carries the window
		}
	}
	if !found {
		t.Error("the replay lacks the second in which v1 served")
	}
}

func TestRecorderRefusesBadHistory(t *testing.T) {
	rec := NewRecorder(RecorderOptions{Registry: metrics.NewRegistry(metrics.Options{}), Services: func() []string { return nil }})
	w := httptest.NewRecorder()
	rec.ServeHTTP(w, httptest.NewRequest("GET", "/v1/traffic?history=-1", nil))
	if w.Code != http.StatusBadRequest || !json.Valid(w.Body.Bytes()) {
		t.Errorf("history=-1: %d %s, want 400 with a JSON error", w.Code, w.Body)
	}
	rec.Close() // before Start: nothing to stop
}
