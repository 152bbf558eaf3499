package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/handover"
	"github.com/cutover-dev/cutover/internal/proxy"
)

// listeners runs the public listeners, each on its own proxy.Server, so
// that a reload can move one (listen.http or listen.https) by opening the
// new address before closing the old, and replace the TLS certificate
// without touching connections. Old listeners drain in the background for
// up to shutdownTimeout; close waits for them. Its methods are safe for
// concurrent use.
type listeners struct {
	h     http.Handler
	log   *slog.Logger
	certs *certHolder // nil until HTTPS is configured from files
	// acme, when set, supplies the HTTPS certificates instead of files and
	// answers the ACME challenges.
	acme *acmeSlot
	// watchCtx bounds the certificate file watch; stop ends it.
	watchCtx context.Context
	stop     context.CancelFunc

	mu            sync.Mutex
	plain, secure *proxy.Server
	cfg           config.Listen
	draining      sync.WaitGroup
	watching      sync.WaitGroup
}

// publicSockets are the public listening sockets, opened before anything
// else (nil: bind at start).
type publicSockets struct {
	http, https net.Listener
}

// close closes the sockets.
func (p publicSockets) close() {
	for _, ln := range []net.Listener{p.http, p.https} {
		if ln != nil {
			_ = ln.Close()
		}
	}
}

// startListeners starts serving h on the listeners of l: the sockets
// given, else newly bound ones. With am, the HTTPS certificates come from
// ACME and the plain listener answers its HTTP-01 challenges.
func startListeners(ctx context.Context, h http.Handler, l config.Listen, am *acmeSlot, log *slog.Logger, socks publicSockets) (*listeners, error) {
	ls := &listeners{h: h, log: log, cfg: l, acme: am}
	ls.watchCtx, ls.stop = context.WithCancel(context.WithoutCancel(ctx))
	p, err := ls.prepare(ctx, l, socks)
	if err != nil {
		ls.stop()
		return nil, err
	}
	p.commit()
	return ls, nil
}

// listenPlan is a prepared change of the listeners: new ones bound and
// serving, a certificate loaded; commit retires what they replace, abort
// closes them.
type listenPlan struct {
	ls            *listeners
	to            config.Listen
	plain, secure *proxy.Server // new servers, nil when unchanged
	newHolder     *certHolder   // set when HTTPS appears for the first time
	cert          func()        // installs the re-read certificate in the existing holder
}

// newServer builds one proxy.Server for a single address, serving ln when
// it is not nil.
func (ls *listeners) newServer(l config.Listen, httpAddr, httpsAddr string, certs *certHolder, ln net.Listener) (*proxy.Server, error) {
	opts := proxy.ServerOptions{
		HTTPAddr: httpAddr, HTTPSAddr: httpsAddr,
		ReadHeaderTimeout: l.ReadHeaderTimeout.D(), IdleTimeout: l.IdleTimeout.D(),
		MaxHeaderBytes: l.MaxHeaderBytes, MaxConnections: l.MaxConnections, Logger: ls.log,
	}
	if px, ok := ls.h.(*proxy.Proxy); ok {
		opts.OnRejected = px.LogRejected
	}
	h := ls.h
	switch {
	case httpsAddr != "" && ls.acme != nil:
		opts.GetCertificate = ls.acme.GetCertificate
		opts.ExtraNextProtos = ls.acme.NextProtos()
		opts.HTTPSListener = ln
	case httpsAddr != "":
		opts.GetCertificate = certs.GetCertificate
		opts.HTTPSListener = ln
	default:
		opts.HTTPListener = ln
		if ls.acme != nil {
			h = ls.acme.HTTPHandler(h)
		}
	}
	return proxy.NewServer(h, opts)
}

// prepare binds the listeners that l adds or moves (using socks, the
// first time) and re-reads the TLS certificate. Nothing that serves now
// changes until commit.
func (ls *listeners) prepare(ctx context.Context, l config.Listen, socks publicSockets) (p *listenPlan, err error) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	p = &listenPlan{ls: ls, to: l}
	defer func() {
		if err != nil {
			p.abort()
		}
	}()
	first := ls.plain == nil && ls.secure == nil
	certs := ls.certs
	if (l.ACME == nil) != (ls.acme == nil) {
		return p, errors.New("listen.acme is added or removed: that takes a restart (cutover upgrade), the running listeners keep serving")
	}
	if l.HTTPS != "" && ls.acme == nil {
		if certs == nil {
			if certs, err = newCertHolder(ls.log, l.TLS.Cert, l.TLS.Key); err != nil {
				return p, err
			}
			p.newHolder = certs
		} else {
			cert, st, err := loadPair(l.TLS.Cert, l.TLS.Key)
			if err != nil {
				return p, err
			}
			p.cert = func() { certs.set(cert, l.TLS.Cert, l.TLS.Key, st) }
		}
	}
	if l.HTTP != "" && (first || l.HTTP != ls.cfg.HTTP) {
		if p.plain, err = ls.newServer(l, l.HTTP, "", nil, socks.http); err != nil {
			return p, err
		}
		if err = p.plain.Start(ctx); err != nil {
			return p, err
		}
	}
	if l.HTTPS != "" && (first || l.HTTPS != ls.cfg.HTTPS) {
		if p.secure, err = ls.newServer(l, "", l.HTTPS, certs, socks.https); err != nil {
			return p, err
		}
		if err = p.secure.Start(ctx); err != nil {
			return p, err
		}
	}
	return p, nil
}

// abort closes the listeners p opened.
func (p *listenPlan) abort() {
	for _, s := range []*proxy.Server{p.plain, p.secure} {
		if s != nil {
			_ = s.Close()
		}
	}
}

// commit makes p's listeners and certificate the ones serving and drains
// the listeners they replace (or that the new config drops).
func (p *listenPlan) commit() {
	ls := p.ls
	ls.mu.Lock()
	defer ls.mu.Unlock()
	var retire []*proxy.Server
	if p.plain != nil || p.to.HTTP == "" {
		retire = append(retire, ls.plain)
		ls.plain = p.plain
	}
	if p.secure != nil || p.to.HTTPS == "" {
		retire = append(retire, ls.secure)
		ls.secure = p.secure
	}
	if p.cert != nil {
		p.cert()
	}
	if p.newHolder != nil {
		ls.certs = p.newHolder
		ls.watching.Add(1)
		go func() {
			defer ls.watching.Done()
			p.newHolder.watch(ls.watchCtx)
		}()
	}
	ls.cfg = p.to
	for _, old := range retire {
		if old == nil {
			continue
		}
		ls.draining.Add(1)
		go func() {
			defer ls.draining.Done()
			ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
			defer cancel()
			_ = old.Drain(ctx)
		}()
	}
}

// reload moves listeners and re-reads the certificate as l says; apply runs
// between binding the new listeners and retiring the old ones, and an error
// from it undoes the change.
func (ls *listeners) reload(ctx context.Context, l config.Listen, apply func() error) error {
	p, err := ls.prepare(ctx, l, publicSockets{})
	if err != nil {
		return err
	}
	if err := apply(); err != nil {
		p.abort()
		return err
	}
	p.commit()
	return nil
}

// servers returns the current listeners.
func (ls *listeners) servers() []*proxy.Server {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	var out []*proxy.Server
	for _, s := range []*proxy.Server{ls.plain, ls.secure} {
		if s != nil {
			out = append(out, s)
		}
	}
	return out
}

// sockets returns the listening sockets serving now by name ("http",
// "https") with their configured addresses, for a successor process to
// take over.
func (ls *listeners) sockets() map[string]handover.Socket {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	out := map[string]handover.Socket{}
	if ls.plain != nil {
		if ln, _ := ls.plain.Sockets(); ln != nil {
			out["http"] = handover.Socket{Listener: ln, Addr: ls.cfg.HTTP}
		}
	}
	if ls.secure != nil {
		if _, ln := ls.secure.Sockets(); ln != nil {
			out["https"] = handover.Socket{Listener: ln, Addr: ls.cfg.HTTPS}
		}
	}
	return out
}

// httpAddr and httpsAddr return the bound addresses, or nil.
func (ls *listeners) httpAddr() net.Addr {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.plain == nil {
		return nil
	}
	return ls.plain.HTTPAddr()
}

func (ls *listeners) httpsAddr() net.Addr {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.secure == nil {
		return nil
	}
	return ls.secure.HTTPSAddr()
}

// shutdown stops accepting and drains the connections (see
// proxy.Server.Drain: in-flight requests finish, keep-alive connections
// end without failing a request) until ctx ends, and waits for listeners
// retired by reloads.
func (ls *listeners) shutdown(ctx context.Context) error {
	ls.stop()
	var wg sync.WaitGroup
	servers := ls.servers()
	errs := make([]error, len(servers))
	for i, s := range servers {
		wg.Go(func() { errs[i] = s.Drain(ctx) })
	}
	wg.Wait()
	ls.draining.Wait()
	ls.watching.Wait()
	return errors.Join(errs...)
}

// close closes every listener and connection at once.
func (ls *listeners) close() {
	ls.stop()
	for _, s := range ls.servers() {
		_ = s.Close()
	}
	ls.draining.Wait()
	ls.watching.Wait()
}
