// Package server wires cutover serve: proxy, health monitor, controller,
// store and admin API, with signal handling.
package server

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cutover-dev/cutover/internal/api"
	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/dashboard"
	"github.com/cutover-dev/cutover/internal/deploy"
	"github.com/cutover-dev/cutover/internal/fleet"
	"github.com/cutover-dev/cutover/internal/handover"
	"github.com/cutover-dev/cutover/internal/health"
	"github.com/cutover-dev/cutover/internal/hostagent"
	"github.com/cutover-dev/cutover/internal/metrics"
	"github.com/cutover-dev/cutover/internal/proxy"
	"github.com/cutover-dev/cutover/internal/runtime"
	"github.com/cutover-dev/cutover/internal/store"
)

// shutdownTimeout bounds finishing in-flight client requests on exit.
const shutdownTimeout = 30 * time.Second

// Options configures Run.
type Options struct {
	// ConfigPath is the cutover.yaml to load (required unless Config is set).
	ConfigPath string
	// Config is used instead of loading ConfigPath (the demo builds one in code).
	Config *config.Config
	// Logger receives structured logs (default slog.Default()).
	Logger *slog.Logger
	// Ready, if not nil, receives the running Server once listeners and the
	// admin API are up.
	Ready chan<- *Server
	// Sockets, if set, hands out the listening sockets (taken over from
	// the previous process of an upgrade or from systemd) and makes
	// `cutover upgrade` and SIGUSR2 possible. Nil binds every socket and
	// refuses upgrades.
	Sockets *handover.Sockets
}

// SocketRecord is the file in the state dir where a running server records
// the path of its admin socket, so that the command line finds it even when
// the config file is broken.
const SocketRecord = "admin-socket"

// Server is a running cutover: what Run hands to Options.Ready.
type Server struct {
	// Controller is the deploy controller.
	Controller *deploy.Controller
	// Proxy is the data plane.
	Proxy *proxy.Proxy
	// Metrics is the per-version metrics registry.
	Metrics *metrics.Registry
	// HTTPAddr and HTTPSAddr are the public listeners' bound addresses at
	// start ("" when not configured).
	HTTPAddr, HTTPSAddr string
	// API is the admin API server.
	API *api.Server
	// Fleet is this host's member of its fleet.
	Fleet *fleet.Agent
	// MetricsAddr is the bound metrics.listen address ("" when not configured).
	MetricsAddr string
	// Traffic records per-second, per-version traffic for the dashboard.
	Traffic *dashboard.Recorder
}

// processStart is when this process started (package initialisation),
// the origin of the time to serve that start logs.
var processStart = time.Now()

// Run serves until ctx is done, then stops accepting, finishes in-flight
// requests and returns; app instances keep running and are re-adopted by
// the next Run. SIGHUP re-reads the config file like the admin API's
// reload: a valid new config is applied, an invalid one (or one dropping a
// live service) is reported and the old one keeps serving. A reload opens
// moved listeners before closing the old ones, re-reads the TLS
// certificate (which is also re-read whenever its files change) and logs
// the changed keys that need a restart.
//
// Run serves from its first moments: it opens the public listeners before
// anything else and serves the recorded routing table at once (instances
// routed before a crash are routed again and re-checked in the
// background); only then does it take the state directory's lock, recover
// interrupted operations (stopping their leftovers in the background), join
// the fleet and open the admin API.
func Run(ctx context.Context, opts Options) (err error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	// A proxy's heap is mostly short-lived request buffers: collecting at
	// 50% growth instead of 100% keeps RSS under load ~12% lower for no
	// measurable CPU (bench/PROFILE.md). GOGC in the environment wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
	cfg := opts.Config
	if cfg == nil {
		if cfg, err = config.Check(opts.ConfigPath); err != nil {
			return err
		}
	} else if err := cfg.Validate(os.LookupEnv); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return fmt.Errorf("state_dir %s: %w", cfg.StateDir, err)
	}
	listen, wait := listenFunc(bindOnly), time.Duration(0)
	if opts.Sockets != nil {
		listen = opts.Sockets.Listen
		if opts.Sockets.Inherited() {
			wait = takeOverWait
		}
	}
	socks, err := openPublic(ctx, cfg.Listen, listen)
	if err != nil {
		return err
	}
	owned := false // the listeners own socks once they serve them
	defer func() {
		if !owned {
			socks.close()
		}
	}()
	st, err := store.OpenLocalUnlocked(filepath.Join(cfg.StateDir, "state"))
	if err != nil {
		return err
	}
	defer st.Close()

	reg := metrics.NewRegistry(metrics.Options{})
	px, err := proxy.New(proxy.Options{
		Logger: log, AccessLog: cfg.AccessLogEnabled(), TrustedProxies: cfg.TrustedPrefixes(), Metrics: reg,
	})
	if err != nil {
		return err
	}
	var ctl *deploy.Controller
	ready := make(chan struct{})
	mon := health.NewMonitor(health.MonitorOptions{
		Logger: log,
		OnChange: func(id string, healthy bool, r health.Result) {
			px.SetHealthy(id, healthy)
			select {
			case <-ready:
				ctl.OnHealth(id, healthy, r.Reason())
			default:
			}
		},
	})
	defer mon.Close()
	// A process that exits is unhealthy at once: no request waits for the
	// next probe to learn it, and a crash in the standby window rolls back
	// without delay.
	onExit := func(inst runtime.Instance, st runtime.State) {
		px.SetHealthy(inst.ID, false)
		select {
		case <-ready:
			ctl.OnHealth(inst.ID, false, "process "+st.Detail)
		default:
		}
	}
	rts := newRuntimes(log, cfg, onExit)
	defer rts.close()
	kinds := make([]string, 0, len(cfg.ServiceOrder))
	for _, name := range cfg.ServiceOrder {
		kinds = append(kinds, cfg.Services[name].Runtime)
	}
	agent, err := hostagent.New(hostagent.Options{Proxy: px, Monitor: mon, Runtime: rts.get, Logger: log, ListKinds: kinds})
	if err != nil {
		return err
	}
	defer agent.Close()
	var members atomic.Pointer[fleet.Agent] // this host's fleet member, once joined; read by health callbacks
	ctl, err = deploy.New(deploy.Options{Config: cfg, Store: st, Agent: agent, Metrics: reg, Logger: log,
		HostName: cfg.Cluster.Name, OnActiveUnhealthy: func(service, reason string) { fleetRollback(members.Load(), service, reason, log) }})
	if err != nil {
		return err
	}
	close(ready)
	defer ctl.Close()

	// Serve the recorded routing first; everything else comes after.
	if err := ctl.Restore(ctx); err != nil {
		return err
	}
	gate := newReadyGate(cfg.Cluster.Name)
	px.SetReserved(fleet.ReadyPath, gate)
	px.SetHTTPSPort(portOf(cfg.Listen.HTTPS))
	certs := newACMESlot(cfg.Listen.ACME)
	lns, err := startListeners(ctx, px, cfg.Listen, certs, log, socks)
	if err != nil {
		return err
	}
	owned = true
	defer lns.close()
	log.Info("serving the recorded routing", "since_start", time.Since(processStart).Round(time.Microsecond))

	cp := &controlPlane{cfg: cfg, log: log, st: st, ctl: ctl, gate: gate, members: &members, wait: wait}
	if err := cp.lock(ctx); err != nil {
		return err
	}
	if err := ctl.Start(ctx); err != nil {
		return err
	}
	if err := cp.join(ctx); err != nil {
		return err
	}
	defer cp.close()
	member := members.Load()
	if certs != nil {
		stop, err := startACME(ctx, cfg, cp.store, certs, log)
		if err != nil {
			return err
		}
		defer stop()
	}

	var token string
	if cfg.Admin.TCP != "" {
		if token, err = cfg.AdminToken(os.LookupEnv); err != nil {
			return err
		}
	}
	promReg := prometheus.NewRegistry()
	promReg.MustRegister(reg.Collector())
	metricsHandler := promhttp.HandlerFor(promReg, promhttp.HandlerOpts{})
	be := &backend{Controller: ctl, cfg: cfg, listeners: lns, acme: certs, log: log, upgrades: make(chan upgradeReq)}
	be.instanceLogs = instanceLogs{store: st, rts: rts, services: be.services}
	ui, stopUI := startDashboard(ctx, reg, be)
	defer stopUI()
	adm, err := api.NewServer(api.Options{
		Backend: &fleetBackend{backend: be, members: &members, local: cfg.Cluster.Backend == config.ClusterLocal},
		Logger:  log, Socket: cfg.Admin.Socket, SocketGroup: cfg.Admin.SocketGroup, TCP: cfg.Admin.TCP, Token: token,
		TLSCert: cfg.Admin.TLS.Cert, TLSKey: cfg.Admin.TLS.Key,
		Metrics: metricsHandler, Listen: listen, Dashboard: ui,
	})
	if err != nil {
		return err
	}
	if err := adm.Start(ctx); err != nil {
		return err
	}
	defer adm.Close()
	handedOver := false
	record := filepath.Join(cfg.StateDir, SocketRecord)
	if err := os.WriteFile(record, []byte(adm.SocketPath()+"\n"), 0o600); err != nil {
		log.Warn("record the admin socket path", "file", record, "err", err)
	}
	defer func() {
		if !handedOver {
			os.Remove(record)
		}
	}()

	running := &Server{Controller: ctl, Proxy: px, Metrics: reg, API: adm, Fleet: member, Traffic: ui.Recorder()}
	var ml *metricsListener
	if cfg.Metrics.Listen != "" {
		if ml, err = startMetrics(cfg.Metrics.Listen, metricsHandler, log, listen); err != nil {
			return err
		}
		defer ml.close()
		running.MetricsAddr = ml.addr()
	}
	up := &upgrader{sockets: opts.Sockets, cp: cp, log: log, current: func() map[string]handover.Socket {
		m := lns.sockets()
		maps.Copy(m, withAddrs(adm.Sockets(), adm.SocketAddrs()))
		if ml != nil {
			m["metrics"] = handover.Socket{Listener: ml.ln, Addr: cfg.Metrics.Listen}
		}
		return m
	}}
	attrs := []any{"admin_socket", adm.SocketPath(), "host", member.Name(), "cluster", cfg.Cluster.Backend,
		"since_start", time.Since(processStart).Round(time.Microsecond), "pid", os.Getpid()}
	if a := lns.httpAddr(); a != nil {
		running.HTTPAddr = a.String()
		attrs = append(attrs, "http", running.HTTPAddr)
	}
	if a := lns.httpsAddr(); a != nil {
		running.HTTPSAddr = a.String()
		attrs = append(attrs, "https", running.HTTPSAddr)
	}
	if a := adm.TCPAddr(); a != "" {
		attrs = append(attrs, "admin_tcp", a)
	}
	if running.MetricsAddr != "" {
		attrs = append(attrs, "metrics", running.MetricsAddr)
	}
	if opts.Sockets != nil {
		if err := opts.Sockets.Ready(); err != nil {
			return err
		}
	}
	log.Info("cutover serving", attrs...)
	if opts.Ready != nil {
		opts.Ready <- running
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	usr2 := make(chan os.Signal, 1)
	signal.Notify(usr2, syscall.SIGUSR2)
	defer signal.Stop(usr2)
	for {
		var req upgradeReq
		select {
		case <-hup:
			if cfg.Path == "" {
				log.Warn("reload ignored: the config was not read from a file")
				continue
			}
			_, _ = be.Reload(ctx, deploy.ReloadOptions{}) // logs its outcome
			continue
		case <-usr2:
			req = upgradeReq{start: time.Now(), done: make(chan upgradeResp, 1)}
		case req = <-be.upgrades:
		case <-ctx.Done():
			log.Info("shutting down: finishing in-flight requests; app instances keep running")
			sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
			defer cancel()
			if err := lns.shutdown(sctx); err != nil {
				log.Warn("shutdown", "err", err)
			}
			px.CloseIdleConnections()
			return nil
		}
		res, err := up.run(ctx, req.binary, req.start)
		req.done <- upgradeResp{res: res, err: err}
		if err != nil {
			continue
		}
		// The successor serves: stop accepting, let the connections end,
		// exit. App instances keep running; the successor owns them.
		handedOver = true
		drainStart := time.Now()
		adm.Handover()
		_ = adm.Close()
		if ml != nil {
			ml.close()
		}
		adminDone := time.Since(drainStart)
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := lns.shutdown(sctx); err != nil {
			log.Warn("drain after the handover", "err", err)
		}
		px.CloseIdleConnections()
		log.Info("handed over; exiting", "successor", res.PID, "admin_closed_in", adminDone.Round(time.Millisecond),
			"drained_in", time.Since(drainStart).Round(time.Millisecond))
		return nil
	}
}

// openPublic opens the public listening sockets before anything else, so
// that connections wait in their queues instead of being refused while
// cutover starts.
func openPublic(ctx context.Context, l config.Listen, listen listenFunc) (publicSockets, error) {
	var socks publicSockets
	var lc net.ListenConfig
	if l.HTTP != "" {
		ln, err := listen("http", "tcp", l.HTTP, func() (net.Listener, error) { return lc.Listen(ctx, "tcp", l.HTTP) })
		if err != nil {
			return socks, fmt.Errorf("listen http %s: %w", l.HTTP, err)
		}
		socks.http = ln
	}
	if l.HTTPS != "" {
		ln, err := listen("https", "tcp", l.HTTPS, func() (net.Listener, error) { return lc.Listen(ctx, "tcp", l.HTTPS) })
		if err != nil {
			socks.close()
			return publicSockets{}, fmt.Errorf("listen https %s: %w", l.HTTPS, err)
		}
		socks.https = ln
	}
	return socks, nil
}

// backend adapts the controller to the admin API: Reload re-reads the
// file, applies it to the controller and the listeners, and remembers the
// config in effect for Config. Reloads are serialised.
type backend struct {
	*deploy.Controller
	instanceLogs // implements api.LogBackend
	listeners    *listeners
	acme         *acmeSlot // nil without listen.acme
	log          *slog.Logger
	upgrades     chan upgradeReq // to the main loop, which runs upgrades

	mu  sync.Mutex
	cfg *config.Config // in effect: see config.Effective
}

// services returns the services of the config in effect.
func (b *backend) services() map[string]*config.Service {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cfg.Services
}

// Config implements api.Backend.
func (b *backend) Config(context.Context) (*config.Config, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cfg, nil
}

// Reload implements api.Backend; it logs its outcome.
func (b *backend) Reload(ctx context.Context, opts deploy.ReloadOptions) (config.Changes, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	path := b.cfg.Path
	if path == "" {
		return config.Changes{}, fmt.Errorf("%w: the config was not read from a file", deploy.ErrInvalid)
	}
	next, err := config.Check(path)
	if err != nil {
		b.log.Error("config reload rejected; the running config keeps serving", "path", path, "err", err)
		return config.Changes{}, err
	}
	ch := config.Diff(b.cfg, next)
	err = b.listeners.reload(ctx, next.Listen, func() error { return b.Controller.Reload(ctx, next, opts) })
	if err != nil {
		b.log.Error("config reload rejected; the running config keeps serving", "path", path, "err", err)
		return config.Changes{}, err
	}
	b.cfg = config.Effective(b.cfg, next)
	if px, ok := b.listeners.h.(*proxy.Proxy); ok {
		px.SetHTTPSPort(portOf(b.cfg.Listen.HTTPS))
	}
	if b.acme != nil {
		b.acme.manage(b.cfg.ACMEDomains(), b.log)
	}
	b.log.Info("config reloaded", "path", path, "added", ch.Added, "removed", ch.Removed,
		"changed", ch.Changed, "applied", ch.Applied)
	if len(ch.Restart) > 0 {
		b.log.Warn("config keys changed that apply only after a restart of cutover serve", "keys", ch.Restart)
	}
	return ch, nil
}

// portOf returns the port of a listen address (0 when there is none).
func portOf(addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}
