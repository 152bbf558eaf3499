package engine

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

func TestNegotiate(t *testing.T) {
	tests := []struct {
		min, max string
		want     string
		wantErr  bool
	}{
		{min: "1.12", max: "1.41", want: "1.41"},
		{min: "1.24", max: "1.51", want: "1.41"},
		{min: "1.44", max: "1.52", want: "1.44"},
		{min: "", max: "1.45", want: "1.41"},
		{min: "1.12", max: "1.40", wantErr: true},
		{min: "", max: "", wantErr: true},
	}
	for _, tt := range tests {
		got, err := negotiate(tt.min, tt.max)
		if tt.wantErr {
			if !errors.Is(err, ErrUnsupportedVersion) {
				t.Errorf("negotiate(%q, %q) error = %v, want ErrUnsupportedVersion", tt.min, tt.max, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("negotiate(%q, %q) = %q, %v; want %q", tt.min, tt.max, got, err, tt.want)
		}
	}
}

// fakeEngine serves handler on a unix socket and returns a client for it.
func fakeEngine(t *testing.T, handler http.Handler) *Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "docker.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(handler)
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	c, err := New(Options{Host: "unix://" + sock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestClientErrors(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"Version":"20.10.24","ApiVersion":"1.41","MinAPIVersion":"1.12"}`))
	})
	mux.HandleFunc("GET /v1.41/containers/gone/json", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"message":"No such container: gone"}`))
	})
	mux.HandleFunc("POST /v1.41/containers/create", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("name") != "taken" || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusConflict)
		w.Write([]byte(`{"message":"Conflict. The container name \"/taken\" is already in use"}`))
	})
	mux.HandleFunc("DELETE /v1.41/containers/busy", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusConflict)
		w.Write([]byte(`{"message":"removal of container busy is already in progress"}`))
	})
	c := fakeEngine(t, mux)
	ctx := context.Background()

	_, err := c.ContainerInspect(ctx, "gone")
	if !errors.Is(err, ErrNotFound) || !IsGone(err) || !strings.Contains(err.Error(), "No such container: gone") {
		t.Errorf("inspect gone: %v", err)
	}
	_, _, err = c.ContainerCreate(ctx, "taken", ContainerConfig{Image: "x"})
	if !errors.Is(err, ErrConflict) || IsGone(err) || !strings.Contains(err.Error(), "already in use") {
		t.Errorf("create taken: %v", err)
	}
	err = c.ContainerRemove(ctx, "busy", RemoveOptions{Force: true})
	if !IsGone(err) {
		t.Errorf("remove busy: %v, want IsGone", err)
	}
}

func TestClientRefusesOldEngine(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"Version":"19.03.1","ApiVersion":"1.40","MinAPIVersion":"1.12"}`))
	})
	c := fakeEngine(t, mux)
	if err := c.Ping(context.Background()); !errors.Is(err, ErrUnsupportedVersion) {
		t.Fatalf("Ping = %v, want ErrUnsupportedVersion", err)
	}
}

func TestClientUnreachable(t *testing.T) {
	c, err := New(Options{Host: "unix://" + filepath.Join(t.TempDir(), "missing.sock")})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(context.Background()); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("Ping = %v, want ErrUnreachable", err)
	}
}

func TestSplitReference(t *testing.T) {
	tests := []struct{ ref, repo, tag string }{
		{"shop/api:v1", "shop/api", "v1"},
		{"shop/api", "shop/api", ""},
		{"localhost:5000/app", "localhost:5000/app", ""},
		{"localhost:5000/app:1.2", "localhost:5000/app", "1.2"},
		{"app@sha256:abcd", "app", "sha256:abcd"},
	}
	for _, tt := range tests {
		repo, tag := SplitReference(tt.ref)
		if repo != tt.repo || tag != tt.tag {
			t.Errorf("SplitReference(%q) = %q, %q; want %q, %q", tt.ref, repo, tag, tt.repo, tt.tag)
		}
	}
}
