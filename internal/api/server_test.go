package api_test

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cutover-dev/cutover/internal/api"
	"github.com/cutover-dev/cutover/internal/api/apitest"
)

func TestNewServerValidates(t *testing.T) {
	fake := apitest.NewFake()
	tests := []struct {
		name string
		opts api.Options
		want string
	}{
		{"no backend", api.Options{Socket: "/tmp/x.sock"}, "Backend is required"},
		{"no listener", api.Options{Backend: fake}, "set Socket, TCP or both"},
		{"tcp without token", api.Options{Backend: fake, TCP: "127.0.0.1:0"}, "requires a token"},
		{"negative heartbeat", api.Options{Backend: fake, Socket: "/tmp/x.sock", Heartbeat: -1}, "Heartbeat"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := api.NewServer(tt.opts)
			if !errors.Is(err, api.ErrBadOptions) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrBadOptions mentioning %q", err, tt.want)
			}
		})
	}
}

func TestBindFailureLeavesNothing(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	path := filepath.Join(shortDir(t), "admin.sock")
	srv, err := api.NewServer(api.Options{Backend: apitest.NewFake(), Logger: quietLogger(),
		Socket: path, TCP: busy.Addr().String(), Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if err := srv.Start(t.Context()); err == nil {
		t.Fatal("Start succeeded on a busy TCP port")
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("socket left behind after failed Start: %v", err)
	}
}

func TestCloseIsIdempotentAndRemovesSocket(t *testing.T) {
	srv, err := api.NewServer(api.Options{Backend: apitest.NewFake(), Logger: quietLogger(),
		Socket: filepath.Join(shortDir(t), "admin.sock")})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(t.Context()); !errors.Is(err, api.ErrStarted) {
		t.Errorf("second Start = %v, want ErrStarted", err)
	}
	path := srv.SocketPath()
	for range 2 {
		if err := srv.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("socket still there after Close: %v", err)
	}
	if err := srv.Start(t.Context()); !errors.Is(err, api.ErrClosed) {
		t.Errorf("Start after Close = %v, want ErrClosed", err)
	}
}

func TestContextEndsServer(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	srv, err := api.NewServer(api.Options{Backend: apitest.NewFake(), Logger: quietLogger(),
		Socket: filepath.Join(shortDir(t), "admin.sock")})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, "unix://"+srv.SocketPath(), "")
	if err := c.Health(t.Context()); err != nil {
		t.Fatal(err)
	}
	cancel()
	// Close (run by the context) removes the socket; a client then cannot connect.
	for wctx := waitCtx(t); ; {
		if err := c.Health(wctx); errors.Is(err, api.ErrUnreachable) {
			break
		} else if wctx.Err() != nil {
			t.Fatalf("server still answers after its context ended: %v", err)
		}
	}
}

func TestMetricsEndpoint(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("cutover_up 1\n"))
	})
	ts := startServer(t, apitest.NewFake(), func(o *api.Options) { o.Metrics = metrics })
	if r := ts.raw(t, http.MethodGet, "/metrics", ""); r.status != 200 || r.body != "cutover_up 1\n" {
		t.Fatalf("GET /metrics = %d %q", r.status, r.body)
	}
	none := startServer(t, apitest.NewFake(), nil)
	if r := none.raw(t, http.MethodGet, "/metrics", ""); r.status != http.StatusNotFound {
		t.Fatalf("GET /metrics without handler = %d, want 404", r.status)
	}
}

func TestUnknownRoutesAnswerJSON(t *testing.T) {
	ts := startServer(t, apitest.NewFake(services()...), nil)
	r := ts.raw(t, http.MethodGet, "/v1/nope", "")
	if r.status != http.StatusNotFound || !strings.Contains(r.body, `"code": "not_found"`) {
		t.Errorf("GET /v1/nope = %d %s", r.status, r.body)
	}
	r = ts.raw(t, http.MethodDelete, "/v1/services/web", "")
	if r.status != http.StatusMethodNotAllowed || !strings.Contains(r.body, `"code": "method_not_allowed"`) ||
		!strings.Contains(r.header.Get("Allow"), "GET") {
		t.Errorf("DELETE /v1/services/web = %d %v %s", r.status, r.header, r.body)
	}
}
