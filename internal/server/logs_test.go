package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/api"
	"github.com/cutover-dev/cutover/internal/runtime"
	"github.com/cutover-dev/cutover/internal/store"
)

func TestTailStart(t *testing.T) {
	data := "one\ntwo\nthree\n"
	r := strings.NewReader(data)
	for n, want := range map[int]string{-1: data, 0: "", 1: "three\n", 2: "two\nthree\n", 3: data, 10: data} {
		off, err := tailStart(r, int64(len(data)), n)
		if err != nil {
			t.Fatal(err)
		}
		if got := data[off:]; got != want {
			t.Errorf("last %d lines = %q, want %q", n, got, want)
		}
	}
	off, _ := tailStart(strings.NewReader("a\nb"), 3, 1) // no final newline
	if off != 2 {
		t.Errorf("partial last line starts at %d, want 2", off)
	}
}

func TestPickInstance(t *testing.T) {
	st := store.ServiceState{Name: "web",
		Active:  &store.Release{Version: "v2", Instances: []runtime.Instance{{ID: "web-v2-a"}, {ID: "web-v2-b"}}},
		Standby: &store.Release{Version: "v1", Instances: []runtime.Instance{{ID: "web-v1-a"}}},
	}
	for _, tc := range []struct{ version, id, want, err string }{
		{"", "", "web-v2-a", ""},
		{"v1", "", "web-v1-a", ""},
		{"v2", "web-v2-b", "web-v2-b", ""},
		{"v3", "", "", "service web has no release v3; running: v2, v1"},
		{"v2", "x", "", "release v2 of web has no instance x; its instances: web-v2-a, web-v2-b"},
	} {
		in, err := pickInstance(st, tc.version, tc.id)
		if tc.err != "" {
			if !errors.Is(err, api.ErrNoInstance) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s/%s: err = %v, want %q", tc.version, tc.id, err, tc.err)
			}
			continue
		}
		if err != nil || in.ID != tc.want {
			t.Errorf("%s/%s: %s, %v; want %s", tc.version, tc.id, in.ID, err, tc.want)
		}
	}
	if _, err := pickInstance(store.ServiceState{Name: "web"}, "", ""); !errors.Is(err, api.ErrNoInstance) {
		t.Errorf("no release: %v", err)
	}
}

// lockedBuffer collects a followed log.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestFollowFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "web.log")
	if err := os.WriteFile(path, []byte("a\nb\nc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := followFile(t.Context(), path, 2, nil, &out); err != nil || out.String() != "b\nc\n" {
		t.Fatalf("last 2 lines: %q, %v", out.String(), err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	var got lockedBuffer
	done := make(chan error, 1)
	ticks := make(chan time.Time)
	// check makes the follower look at the file and waits until it has:
	// the second send is taken only after the first check is done.
	check := func() { ticks <- time.Now(); ticks <- time.Now() }
	go func() { done <- followFile(ctx, path, 1, ticks, &got) }()
	check()
	if got.String() != "c\n" {
		t.Fatalf("followed %q, want the last line", got.String())
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("d\n"); err != nil {
		t.Fatal(err)
	}
	check()
	if got.String() != "c\nd\n" {
		t.Fatalf("followed %q, want the appended line", got.String())
	}
	// Capped to a shorter file: followed from its new end.
	if err := os.Truncate(path, 2); err != nil {
		t.Fatal(err)
	}
	check()
	if _, err := f.WriteString("e\n"); err != nil {
		t.Fatal(err)
	}
	check()
	if got.String() != "c\nd\ne\n" {
		t.Fatalf("followed %q, want the line after the cap", got.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("follow ended with %v", err)
	}
	if err := followFile(t.Context(), filepath.Join(t.TempDir(), "gone.log"), 1, nil, io.Discard); !errors.Is(err, api.ErrNoInstance) {
		t.Errorf("missing file: %v", err)
	}
}

func TestMetricsListenerServesOnlyMetrics(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "cutover_requests_total 1\n") })
	m, err := startMetrics("127.0.0.1:0", h, slog.New(slog.DiscardHandler), bindOnly)
	if err != nil {
		t.Fatal(err)
	}
	defer m.close()
	for path, want := range map[string]int{"/metrics": 200, "/v1/services": 404, "/": 404} {
		resp, err := http.Get("http://" + m.addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", path, resp.StatusCode, want)
		}
		if path == "/metrics" && !strings.Contains(string(body), "cutover_requests_total") {
			t.Errorf("/metrics body %q", body)
		}
	}
}
