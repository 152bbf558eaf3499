package health

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func TestGateThresholdsAndInterval(t *testing.T) {
	tests := []struct {
		name      string
		script    []bool
		threshold int
		wantN     int
	}{
		{"healthy at once", []bool{true, true}, 2, 2},
		{"threshold 1", []bool{true}, 1, 1},
		{"failure resets the count", []bool{false, true, false, true, true}, 2, 5},
		{"three in a row", []bool{true, true, false, true, true, true}, 3, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := &scriptProber{script: tt.script, took: 100 * time.Millisecond}
				c := Check{Interval: time.Second, HealthyThreshold: tt.threshold}
				start := time.Now()
				var progress []int
				r, err := Gate(t.Context(), c, "app:80", time.Minute, withProber(p.probe),
					WithProgress(func(r Result) { progress = append(progress, r.Attempts) }))
				if err != nil {
					t.Fatal(err)
				}
				if !r.Healthy || r.Attempts != tt.wantN || p.count() != tt.wantN || len(progress) != tt.wantN {
					t.Fatalf("result %+v after %d probes, %d progress calls", r, p.count(), len(progress))
				}
				// Probes start Interval after the previous one ended.
				for i := 1; i < len(p.calls); i++ {
					if gap := p.calls[i].Sub(p.calls[i-1]); gap != 1100*time.Millisecond {
						t.Fatalf("gap %d = %v", i, gap)
					}
				}
				if el := time.Since(start); el != time.Duration(tt.wantN)*100*time.Millisecond+time.Duration(tt.wantN-1)*time.Second {
					t.Fatalf("elapsed %v", el)
				}
			})
		})
	}
}

func TestGateDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &scriptProber{script: []bool{false}}
		start := time.Now()
		r, err := Gate(t.Context(), Check{Interval: time.Second}, "app:80", 10500*time.Millisecond, withProber(p.probe))
		if !errors.Is(err, ErrNotHealthy) {
			t.Fatalf("err = %v", err)
		}
		if time.Since(start) != 10500*time.Millisecond {
			t.Fatalf("returned after %v", time.Since(start))
		}
		if r.Attempts != 11 || p.count() != 11 {
			t.Fatalf("attempts %d, probes %d", r.Attempts, p.count())
		}
		want := `not healthy within 10.5s after 11 probes of http://app:80/: last probe: status 503, body "down"`
		if err.Error() != want {
			t.Fatalf("err = %q\nwant  %q", err, want)
		}
	})
}

func TestGateDeadlineDuringProbeKeepsPreviousReason(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Each probe takes 3s: probes run 0-3s, 4-7s and from 8s, when the 9s deadline cuts the third one short.
		p := &scriptProber{script: []bool{false}, took: 3 * time.Second}
		r, err := Gate(t.Context(), Check{Type: TypeTCP, Interval: time.Second, Port: 9000}, "app:80", 9*time.Second, withProber(p.probe))
		if !errors.Is(err, ErrNotHealthy) || r.Attempts != 2 || r.Err != "" || r.Status != 503 {
			t.Fatalf("r = %+v, err = %v", r, err)
		}
		if !strings.Contains(err.Error(), "of app:9000: last probe: status 503") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestGateContextCanceled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 3500*time.Millisecond)
		defer cancel()
		p := &scriptProber{script: []bool{false}}
		_, err := Gate(ctx, Check{}, "app:80", time.Minute, withProber(p.probe))
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrNotHealthy) {
			t.Fatalf("err = %v", err)
		}
		if p.count() != 4 {
			t.Fatalf("probes %d", p.count())
		}
	})
}

func TestGateAbort(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		exited := errors.New("process exited with status 1")
		var rounds atomic.Int32
		abort := func() error {
			if rounds.Add(1) == 4 {
				return exited
			}
			return nil
		}
		p := &scriptProber{script: []bool{false}}
		r, err := Gate(t.Context(), Check{}, "app:80", time.Minute, withProber(p.probe), WithAbort(abort))
		if err != exited {
			t.Fatalf("err = %v", err)
		}
		if p.count() != 3 || r.Attempts != 3 {
			t.Fatalf("probes %d, attempts %d", p.count(), r.Attempts)
		}
	})
}

func TestGateInvalidCheck(t *testing.T) {
	_, err := Gate(t.Context(), Check{Type: "udp"}, "app:80", time.Second)
	if !errors.Is(err, ErrInvalidCheck) {
		t.Fatalf("err = %v", err)
	}
}

// TestGateRealServer gates on a real server that turns healthy after a few
// requests.
func TestGateRealServer(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) < 3 {
			http.Error(w, "starting", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	r, err := Gate(t.Context(), Check{Path: "/ready", Interval: 10 * time.Millisecond}, serverAddr(srv), 10*time.Second)
	if err != nil || r.Attempts != 4 || r.Status != 200 {
		t.Fatalf("r = %+v, err = %v", r, err)
	}
}
