package api_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/cutover-dev/cutover/internal/api"
	"github.com/cutover-dev/cutover/internal/api/apitest"
	"github.com/cutover-dev/cutover/internal/deploy"
)

func TestLogsEndpoint(t *testing.T) {
	fake := apitest.NewFake(services()...)
	fake.SetLog("web", "", "a\nb\nc\n")
	ts := startServer(t, fake, nil)
	var out strings.Builder
	if err := ts.unix.Logs(t.Context(), api.LogsRequest{Service: "web", Lines: 2}, &out); err != nil || out.String() != "b\nc\n" {
		t.Fatalf("logs = %q, %v", out.String(), err)
	}
	r := ts.raw(t, http.MethodGet, "/v1/services/web/logs", "")
	if r.status != 200 || r.header.Get("Content-Type") != "text/plain; charset=utf-8" || r.body != "a\nb\nc\n" {
		t.Fatalf("raw: %+v", r)
	}
	err := ts.unix.Logs(t.Context(), api.LogsRequest{Service: "web", Version: "v9"}, &out)
	if !errors.Is(err, api.ErrNoInstance) {
		t.Fatalf("unknown version: %v", err)
	}
	err = ts.unix.Logs(t.Context(), api.LogsRequest{Service: "nope"}, &out)
	if !errors.Is(err, deploy.ErrUnknownService) {
		t.Fatalf("unknown service: %v", err)
	}
	if r := ts.raw(t, http.MethodGet, "/v1/services/web/logs?lines=x", ""); r.status != 400 || !strings.Contains(r.body, "lines must be") {
		t.Fatalf("bad lines: %+v", r)
	}
}

// plainBackend hides the Fake's Logs method.
type plainBackend struct{ api.Backend }

func TestLogsEndpointNotSupported(t *testing.T) {
	fake := apitest.NewFake(services()...)
	srv, err := api.NewServer(api.Options{Backend: plainBackend{fake}, Logger: quietLogger(),
		Socket: shortDir(t) + "/a.sock"})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	err = newClient(t, "unix://"+srv.SocketPath(), "").Logs(t.Context(), api.LogsRequest{Service: "web"}, &strings.Builder{})
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusNotImplemented || !errors.Is(err, api.ErrNotSupported) {
		t.Fatalf("err = %v", err)
	}
}
