package api_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/cutover-dev/cutover/internal/api"
	"github.com/cutover-dev/cutover/internal/api/apitest"
)

func TestTCPRequiresToken(t *testing.T) {
	ts := startServer(t, apitest.NewFake(services()...), func(o *api.Options) { o.AuthBurst = 100 })
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
