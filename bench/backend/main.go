// Command backend is the benchmark's upstream: a minimal net/http server that
// answers every request with exactly 100 bytes naming the backend, so that a
// switch between two backends is visible in the responses; /size/N answers
// N bytes instead (the larger-response workloads).
//
// It pins itself to one OS thread of Go code (GOMAXPROCS=1) unless the
// environment sets GOMAXPROCS. Request bodies are read and discarded.
//
//	backend -addr 127.0.0.1:9001 -name v1
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// responseSize is the exact size of every response body.
const responseSize = 100

func main() {
	addr := flag.String("addr", "127.0.0.1:9001", "listen address")
	name := flag.String("name", "v1", "backend name written into every response")
	flag.Parse()
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	body, err := Body(*name)
	if err != nil {
		log.Error("invalid name", "err", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, *addr, body); err != nil {
		log.Error("backend failed", "addr", *addr, "err", err)
		os.Exit(1)
	}
}

// Body returns the 100-byte response for a backend called name: "backend=NAME"
// padded with dots and ending in a newline.
func Body(name string) ([]byte, error) {
	head := "backend=" + name + " "
	if len(head) > responseSize-1 {
		return nil, fmt.Errorf("name %q too long", name)
	}
	b := make([]byte, responseSize)
	copy(b, head)
	for i := len(head); i < responseSize-1; i++ {
		b[i] = '.'
	}
	b[responseSize-1] = '\n'
	return b, nil
}

// maxSize bounds the body size /size/N asks for.
const maxSize = 8 << 20

// Handler returns the handler that drains the request body and writes body,
// or, for /size/N, N bytes (at most 8 MiB) that start with body.
func Handler(body []byte) http.Handler {
	length := strconv.Itoa(len(body))
	var sized sync.Map // size -> []byte
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		out, outLen := body, length
		if rest, ok := strings.CutPrefix(r.URL.Path, "/size/"); ok {
			n, err := strconv.Atoi(rest)
			if err != nil || n < 0 || n > maxSize {
				http.Error(w, "size must be 0 to 8388608", http.StatusBadRequest)
				return
			}
			if v, ok := sized.Load(n); ok {
				out = v.([]byte)
			} else {
				out = bytes.Repeat([]byte("."), n)
				copy(out, body)
				sized.Store(n, out)
			}
			outLen = strconv.Itoa(n)
		}
		h := w.Header()
		h["Content-Type"] = []string{"text/plain"}
		h["Content-Length"] = []string{outLen}
		_, _ = w.Write(out)
	})
}

func serve(ctx context.Context, addr string, body []byte) error {
	srv := &http.Server{
		Addr:              addr,
		Handler:           Handler(body),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       5 * time.Minute,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
