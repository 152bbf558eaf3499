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

func TestTCPRequiresToken(t *testing.T) {
	ts := startServer(t, apitest.NewFake(services()...), nil)
	tests := []struct {
		name   string
		header string
		status int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"wrong token", "Bearer nope", http.StatusUnauthorized},
		{"token prefix", "Bearer " + testToken[:4], http.StatusUnauthorized},
		{"wrong scheme", "Basic " + testToken, http.StatusUnauthorized},
		{"right token", "Bearer " + testToken, http.StatusOK},
		{"scheme is case-insensitive", "bearer " + testToken, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, path := range []string{"/v1/health", "/v1/services"} {
				req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, ts.tcp+path, nil)
				if tt.header != "" {
					req.Header.Set("Authorization", tt.header)
				}
				resp, err := noRetryClient().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != tt.status {
					t.Errorf("%s: status = %d, want %d", path, resp.StatusCode, tt.status)
				}
				if tt.status == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
					t.Errorf("%s: 401 without WWW-Authenticate", path)
				}
			}
		})
	}
}

func TestClientTokenOverTCP(t *testing.T) {
	ts := startServer(t, apitest.NewFake(services()...), nil)
	if err := newClient(t, ts.tcp, testToken).Health(t.Context()); err != nil {
		t.Fatalf("with token: %v", err)
	}
	err := newClient(t, ts.tcp, "").Health(t.Context())
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized || ae.Code != api.CodeUnauthorized {
		t.Fatalf("without token: err = %#v, want 401 unauthorized", err)
	}
	// The unix socket needs no token.
	if err := ts.unix.Health(t.Context()); err != nil {
		t.Fatalf("unix socket: %v", err)
	}
}

func TestSocketModeAndDirectory(t *testing.T) {
	dir := filepath.Join(shortDir(t), "a", "b")
	ts := startServer(t, apitest.NewFake(), func(o *api.Options) {
		o.Socket = filepath.Join(dir, "admin.sock")
		o.TCP = ""
	})
	fi, err := os.Lstat(ts.SocketPath())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode = %v, want socket 0600", fi.Mode())
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o700 {
		t.Errorf("created directory mode = %v, want 0700", di.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the socket", len(entries))
	}
	if ts.TCPAddr() != "" {
		t.Errorf("TCPAddr = %q without TCP", ts.TCPAddr())
	}
}

func TestStaleSocketIsReplaced(t *testing.T) {
	path := filepath.Join(shortDir(t), "admin.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close() // leaves the file with nobody answering
	ts := startServer(t, apitest.NewFake(), func(o *api.Options) { o.Socket, o.TCP = path, "" })
	if err := ts.unix.Health(t.Context()); err != nil {
		t.Fatalf("health over replaced socket: %v", err)
	}
}

func TestLiveSocketIsRefused(t *testing.T) {
	first := startServer(t, apitest.NewFake(), func(o *api.Options) { o.TCP = "" })
	srv, err := api.NewServer(api.Options{Backend: apitest.NewFake(), Logger: quietLogger(), Socket: first.SocketPath()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if err := srv.Start(t.Context()); !errors.Is(err, api.ErrSocketInUse) {
		t.Fatalf("Start = %v, want ErrSocketInUse", err)
	}
	if err := first.unix.Health(t.Context()); err != nil {
		t.Fatalf("first server no longer answers: %v", err)
	}
}

func TestSocketPathThatIsAFileIsLeftAlone(t *testing.T) {
	path := filepath.Join(shortDir(t), "admin.sock")
	if err := os.WriteFile(path, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv, err := api.NewServer(api.Options{Backend: apitest.NewFake(), Logger: quietLogger(), Socket: path})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if err := srv.Start(t.Context()); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("Start = %v, want a 'not a socket' error", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "keep me" {
		t.Fatalf("file content changed to %q", b)
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

func TestUnreachable(t *testing.T) {
	c := newClient(t, "unix://"+filepath.Join(shortDir(t), "none.sock"), "")
	err := c.Health(t.Context())
	if !errors.Is(err, api.ErrUnreachable) {
		t.Fatalf("err = %v, want ErrUnreachable", err)
	}
	if !strings.Contains(err.Error(), "none.sock") {
		t.Errorf("error %q does not name the address", err)
	}
}

func TestNewClientAddresses(t *testing.T) {
	for _, ok := range []string{"unix:///run/cutover/admin.sock", "/run/admin.sock", "./admin.sock",
		"http://127.0.0.1:7070", "https://admin.example.com:7070"} {
		if _, err := api.NewClient(ok, ""); err != nil {
			t.Errorf("NewClient(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "unix://", "127.0.0.1:7070", "ftp://x", "http://x/v1"} {
		if _, err := api.NewClient(bad, ""); !errors.Is(err, api.ErrBadAddress) {
			t.Errorf("NewClient(%q) = %v, want ErrBadAddress", bad, err)
		}
	}
}
