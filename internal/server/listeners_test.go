package server

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
)

func TestListenersMoveOpensNewBeforeClosingOld(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	l := config.Listen{HTTP: "127.0.0.1:0", ReadHeaderTimeout: config.DefaultReadHeaderTimeout, IdleTimeout: config.DefaultIdleTimeout,
		MaxHeaderBytes: config.DefaultMaxHeaderBytes}
	ls, err := startListeners(t.Context(), h, l, nil, slog.New(slog.DiscardHandler), publicSockets{})
	if err != nil {
		t.Fatal(err)
	}
	defer ls.close()
	old := ls.httpAddr().String()
	get := func(addr string) error {
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 2 * time.Second}
		resp, err := c.Get("http://" + addr + "/")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}

	// A move whose apply step fails changes nothing.
	next := l
	next.HTTP = "localhost:0" // a different address string: a move
	var during string
	err = ls.reload(t.Context(), next, func() error {
		during = ls.httpAddr().String()
		return io.ErrUnexpectedEOF
	})
	if err == nil || during != old || ls.httpAddr().String() != old || get(old) != nil {
		t.Fatalf("failed reload: err %v, addr during %s, after %s", err, during, ls.httpAddr())
	}

	// A move binds the new address while the old one still serves.
	err = ls.reload(t.Context(), next, func() error {
		if get(old) != nil {
			t.Error("old listener closed before the move was applied")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	moved := ls.httpAddr().String()
	if moved == old || get(moved) != nil {
		t.Fatalf("after the move: %s (was %s)", moved, old)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", old, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("old listener still open")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A busy address is refused.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	next.HTTP = busy.Addr().String()
	if err := ls.reload(t.Context(), next, func() error { return nil }); err == nil || ls.httpAddr().String() != moved {
		t.Errorf("reload onto a busy address: %v, now on %s", err, ls.httpAddr())
	}
}
