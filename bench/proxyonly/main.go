// Command proxyonly runs cutover's data plane (internal/proxy) on its own,
// without the controller, store or admin API, so the benchmark can measure the
// proxy library apart from the product binary.
//
// Service "web" routes every host to version v1 (-v1) at start. SIGUSR2
// switches it to v2 (-v2) and SIGUSR1 back to v1, each with one
// UpdateService call; -switch-every, if set, alternates on its own as well.
// Set GOMAXPROCS=1 in the environment for one-core numbers.
//
//	proxyonly -listen 127.0.0.1:18085 -v1 127.0.0.1:19001 -v2 127.0.0.1:19002
package main

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cutover-dev/cutover/internal/proxy"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18085", "proxy listen address")
	v1 := flag.String("v1", "127.0.0.1:19001", "backend of version v1")
	v2 := flag.String("v2", "127.0.0.1:19002", "backend of version v2")
	every := flag.Duration("switch-every", 0, "alternate v1/v2 at this interval (0: only on SIGUSR1/SIGUSR2)")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, log, *listen, map[string]string{"v1": *v1, "v2": *v2}, *every); err != nil {
		log.Error("proxyonly failed", "err", err)
		os.Exit(1)
	}
}

// spec is service "web" routed to version v at addr.
func spec(v, addr string) proxy.ServiceSpec {
	return proxy.ServiceSpec{
		Name:   "web",
		Hosts:  []string{"*"},
		Active: proxy.Set{Version: v, Targets: []proxy.TargetSpec{{ID: v, Addr: addr}}},
	}
}

func run(ctx context.Context, log *slog.Logger, listen string, backends map[string]string, every time.Duration) error {
	p, err := proxy.New(proxy.Options{Logger: log})
	if err != nil {
		return err
	}
	if err := p.Apply([]proxy.ServiceSpec{spec("v1", backends["v1"])}); err != nil {
		return err
	}
	srv, err := proxy.NewServer(p, proxy.ServerOptions{HTTPAddr: listen, Logger: log, MaxConnections: 20_000})
	if err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			log.Warn("shutdown incomplete", "err", err)
			_ = srv.Close()
		}
	}()
	log.Info("serving", "listen", listen, "version", "v1")

	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(sigs)
	var tick <-chan time.Time
	if every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	current, switches := "v1", 0
	for {
		next := current
		select {
		case <-ctx.Done():
			log.Info("stopped", "switches", switches)
			return nil
		case s := <-sigs:
			next = map[os.Signal]string{syscall.SIGUSR1: "v1", syscall.SIGUSR2: "v2"}[s]
		case <-tick:
			next = map[string]string{"v1": "v2", "v2": "v1"}[current]
		}
		if err := p.UpdateService(spec(next, backends[next])); err != nil {
			log.Error("switch failed", "version", next, "err", err)
			continue
		}
		current = next
		switches++
	}
}
