package api_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/api"
	"github.com/cutover-dev/cutover/internal/api/apitest"
	"github.com/cutover-dev/cutover/internal/deploy"
)

const testToken = "s3cret-token-0123456789abcdef0123"

// shortDir returns a temporary directory short enough for unix socket paths.
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "co")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// testServer is a started server on a unix socket and a loopback TCP port.
type testServer struct {
	*api.Server
	fake *apitest.Fake
	unix *api.Client // over the socket, no token
	tcp  string      // http://127.0.0.1:port
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// startServer starts a server for fake; edit may change the options.
func startServer(t *testing.T, fake *apitest.Fake, edit func(*api.Options)) *testServer {
	t.Helper()
	opts := api.Options{
		Backend: fake,
		Logger:  quietLogger(),
		Socket:  filepath.Join(shortDir(t), "admin.sock"),
		TCP:     "127.0.0.1:0",
		Token:   testToken,
	}
	if edit != nil {
		edit(&opts)
	}
	srv, err := api.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	ts := &testServer{Server: srv, fake: fake}
	if srv.SocketPath() != "" {
		ts.unix = newClient(t, "unix://"+srv.SocketPath(), "")
	}
	if srv.TCPAddr() != "" {
		ts.tcp = "http://" + srv.TCPAddr()
	}
	return ts
}

func newClient(t *testing.T, addr, token string) *api.Client {
	t.Helper()
	c, err := api.NewClient(addr, token)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// rawResponse is a response read whole.
type rawResponse struct {
	status int
	header http.Header
	body   string
}

// raw sends a request over TCP with the test token; POST bodies are sent as given.
func (ts *testServer) raw(t *testing.T, method, path, body string) rawResponse {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, ts.tcp+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := noRetryClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return rawResponse{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// noRetryClient is an HTTP client that opens a new connection per request.
func noRetryClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
}

func services() []deploy.ServiceStatus {
	return []deploy.ServiceStatus{
		{Name: "web", Strategy: "switch", Runtime: "process"},
		{Name: "api", Strategy: "canary", Runtime: "docker"},
	}
}

func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	return ctx, cancel
}
