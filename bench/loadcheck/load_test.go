package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunCountsSuccessPerBackend(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("backend=v1 ...\n"))
	}))
	defer srv.Close()
	res, err := Run(context.Background(), Options{URL: srv.URL, Duration: 200 * time.Millisecond, Workers: 4, FreshShare: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if res.Total == 0 || res.Failed != 0 || res.Backends["v1"] != res.Total {
		t.Fatalf("got %+v, want all requests ok on v1", res)
	}
	if res.KeepAlive != 2 || res.Fresh != 2 {
		t.Errorf("workers keepalive=%d fresh=%d, want 2/2", res.KeepAlive, res.Fresh)
	}
}

func TestRunCountsEveryKindOfFailure(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) % 3 {
		case 0:
			w.WriteHeader(http.StatusBadGateway)
		case 1:
			_, _ = w.Write([]byte("not a backend"))
		default:
			// Close the connection after the request was read: a client that
			// retried would hide this.
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = conn.Close()
			}
		}
	}))
	defer srv.Close()
	res, err := Run(context.Background(), Options{URL: srv.URL, Duration: 200 * time.Millisecond, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if res.NonOK == 0 || res.BadBody == 0 || res.Errors == 0 {
		t.Fatalf("got %+v, want 502s, bad bodies and transport errors all counted", res)
	}
	if res.Failed != res.Total || res.Status["502"] != res.NonOK {
		t.Errorf("got %+v, want every request failed and 502s listed", res)
	}
}

func TestRunRejectsBadOptions(t *testing.T) {
	for _, o := range []Options{
		{URL: "127.0.0.1:80", Duration: time.Second, Workers: 1},
		{URL: "http://127.0.0.1:80/", Workers: 1},
		{URL: "http://127.0.0.1:80/", Duration: time.Second},
		{URL: "http://127.0.0.1:80/", Duration: time.Second, Workers: 1, FreshShare: 2},
	} {
		if _, err := Run(context.Background(), o); !errors.Is(err, ErrBadOptions) {
			t.Errorf("Run(%+v) = %v, want ErrBadOptions", o, err)
		}
	}
}

func TestBackendName(t *testing.T) {
	for in, want := range map[string]string{
		"backend=v2 ....\n": "v2",
		"backend= x":        "",
		"hello":             "",
		"backend=v1":        "",
	} {
		if got := backendName([]byte(in)); got != want {
			t.Errorf("backendName(%q) = %q, want %q", in, got, want)
		}
	}
}
