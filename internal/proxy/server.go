package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Server defaults.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
)

// headSlack is added to MaxHeaderBytes for the request line and the bytes
// net/http allows beyond the limit.
const headSlack = 8 << 10

// ServerOptions configures the public listeners.
type ServerOptions struct {
	// HTTPAddr is the plain listener ("host:port"); it serves HTTP/1.1 and
	// HTTP/2 with prior knowledge (h2c). Empty disables it.
	HTTPAddr string
	// HTTPSAddr is the TLS listener; it serves HTTP/1.1 and HTTP/2 and
	// requires CertFile and KeyFile. Empty disables it.
	HTTPSAddr string
	// HTTPListener and HTTPSListener, if set, are served instead of
	// binding HTTPAddr and HTTPSAddr (which still enable them): sockets
	// opened early, inherited from a previous process or from systemd.
	// The Server owns them from Start on.
	HTTPListener, HTTPSListener net.Listener
	// CertFile and KeyFile name the PEM certificate chain and key for HTTPS.
	CertFile, KeyFile string
	// GetCertificate, if set, supplies the HTTPS certificate at each
	// handshake instead of CertFile and KeyFile, so that it can be replaced
	// while the listener runs. It must be safe for concurrent use.
	GetCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// ExtraNextProtos are ALPN protocols offered after h2 and http/1.1,
	// answered by GetCertificate alone (the ACME TLS-ALPN-01 challenge).
	ExtraNextProtos []string
	// ReadHeaderTimeout bounds how long a client may take to send request
	// headers (default 10s); slower clients are disconnected.
	ReadHeaderTimeout time.Duration
	// IdleTimeout bounds an idle keep-alive connection (default 120s).
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds request headers (default 64 KiB); larger ones get 431.
	MaxHeaderBytes int
	// MaxConnections bounds the open client connections of each listener
	// (default 10,000). Beyond it the connection idle the longest between
	// keep-alive requests is closed; a new connection is refused (closed)
	// only when none is idle.
	MaxConnections int
	// Logger receives server errors (default slog.Default()).
	Logger *slog.Logger
	// OnRejected, if set, is told of each request the plain listener
	// answers itself before any handler runs (431, 400): the client
	// address, status and status text. Proxy.LogRejected fits. TLS
	// listeners do not report them.
	OnRejected func(client string, status int, reason string)
	// NetHTTP1 serves plain HTTP/1.1 with net/http's server (behind the
	// framing guard) instead of the purpose-built connection loop (the
	// default; see h1conn.go). HTTP/2 and TLS are served by net/http
	// either way.
	NetHTTP1 bool
}

// Server runs the proxy's public listeners. No write timeout is set, so
// streams and WebSockets may last as long as they need; connections taken
// over by a protocol switch are the handler's (the Proxy's drain ends them).
// Its methods are safe for concurrent use.
type Server struct {
	opts   ServerOptions
	log    *slog.Logger
	plain  *http.Server
	secure *http.Server
	tlsCfg *tls.Config

	// draining is set once Drain began: responses then end their
	// connection.
	draining atomic.Bool

	mu      sync.Mutex
	started bool
	closed  bool
	httpLn  net.Listener
	httpsLn net.Listener
	// listeners are the wrapped httpLn and httpsLn.
	listeners []*clientListener
	// h1 serves the plain listener's HTTP/1.1 connections (nil with
	// NetHTTP1 or without a plain listener).
	h1 *h1Server
	wg sync.WaitGroup
}

// NewServer validates opts, loads the TLS certificate and returns a Server
// for h that is not yet listening.
func NewServer(h http.Handler, opts ServerOptions) (*Server, error) {
	if h == nil {
		return nil, fmt.Errorf("%w: handler is nil", ErrInvalidOptions)
	}
	if opts.HTTPAddr == "" && opts.HTTPSAddr == "" {
		return nil, fmt.Errorf("%w: set an HTTP or HTTPS address", ErrInvalidOptions)
	}
	if opts.ReadHeaderTimeout < 0 || opts.IdleTimeout < 0 || opts.MaxHeaderBytes < 0 || opts.MaxConnections < 0 {
		return nil, fmt.Errorf("%w: timeouts, header size and max connections must not be negative", ErrInvalidOptions)
	}
	if opts.MaxConnections == 0 {
		opts.MaxConnections = DefaultMaxConnections
	}
	if opts.ReadHeaderTimeout == 0 {
		opts.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if opts.IdleTimeout == 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.MaxHeaderBytes == 0 {
		opts.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Server{opts: opts, log: opts.Logger}
	if opts.HTTPAddr != "" {
		var protocols http.Protocols
		protocols.SetHTTP1(true)
		protocols.SetUnencryptedHTTP2(true)
		s.plain = s.newHTTPServer(h, &protocols)
	}
	if opts.HTTPSAddr != "" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: opts.GetCertificate}
		if opts.GetCertificate == nil {
			if opts.CertFile == "" || opts.KeyFile == "" {
				return nil, fmt.Errorf("%w: HTTPS needs a certificate and key file", ErrInvalidOptions)
			}
			cert, err := tls.LoadX509KeyPair(opts.CertFile, opts.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("%w: load certificate: %w", ErrInvalidOptions, err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		// TLS is terminated by the listener so that the framing guard
		// sees the decrypted HTTP/1.1 stream; after ALPN "h2" the client
		// speaks HTTP/2 with prior knowledge on it.
		var protocols http.Protocols
		protocols.SetHTTP1(true)
		protocols.SetUnencryptedHTTP2(true)
		s.secure = s.newHTTPServer(h, &protocols)
		tc.NextProtos = append([]string{"h2", "http/1.1"}, opts.ExtraNextProtos...)
		s.tlsCfg = tc
	}
	return s, nil
}

func (s *Server) newHTTPServer(h http.Handler, protocols *http.Protocols) *http.Server {
	return &http.Server{
		Handler:           s.endWhenDraining(h),
		Protocols:         protocols,
		ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
		IdleTimeout:       s.opts.IdleTimeout,
		MaxHeaderBytes:    s.opts.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		ConnContext:       connContext,
		HTTP2: &http.HTTP2Config{
			MaxReadFrameSize: 1 << 20,
		},
	}
}

// Start binds the listeners and serves in the background. It returns once
// both are bound, or the bind error (closing anything already bound). ctx
// bounds binding only; stop the Server with Shutdown or Close.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrServerClosed
	}
	if s.started {
		return ErrServerStarted
	}
	var lc net.ListenConfig
	if s.plain != nil {
		ln := s.opts.HTTPListener
		if ln == nil {
			var err error
			if ln, err = lc.Listen(ctx, "tcp", s.opts.HTTPAddr); err != nil {
				return fmt.Errorf("listen http %s: %w", s.opts.HTTPAddr, err)
			}
		}
		s.httpLn = ln
	}
	if s.secure != nil {
		ln := s.opts.HTTPSListener
		var err error
		if ln == nil {
			ln, err = lc.Listen(ctx, "tcp", s.opts.HTTPSAddr)
		}
		if err != nil {
			if s.httpLn != nil {
				s.httpLn.Close()
				s.httpLn = nil
			}
			return fmt.Errorf("listen https %s: %w", s.opts.HTTPSAddr, err)
		}
		s.httpsLn = ln
	}
	s.started = true
	if s.httpLn != nil {
		s.serve(s.plain, s.httpLn, nil)
	}
	if s.httpsLn != nil {
		s.serve(s.secure, s.httpsLn, s.tlsCfg)
	}
	return nil
}

func (s *Server) serve(srv *http.Server, ln net.Listener, tlsCfg *tls.Config) {
	if tlsCfg == nil && !s.opts.NetHTTP1 {
		s.serveH1(srv, ln)
		return
	}
	if tlsCfg == nil && s.opts.OnRejected != nil {
		// On plain HTTP the bytes net/http answers with are visible.
		ln = &rejectListener{Listener: ln, onReject: s.opts.OnRejected}
	}
	tr := newClientListener(ln, s.opts.MaxConnections, true, s.opts.MaxHeaderBytes+headSlack, tlsCfg, s.log)
	srv.ConnState = tr.ConnState
	s.listeners = append(s.listeners, tr)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		err := srv.Serve(tr)
		if err != nil && !errors.Is(err, http.ErrServerClosed) && !s.draining.Load() {
			s.log.Error("listener stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
}

// serveH1 serves ln with the HTTP/1.1 loop; connections that open with
// the HTTP/2 preface are handed to srv.
func (s *Server) serveH1(srv *http.Server, ln net.Listener) {
	tr := newClientListener(ln, s.opts.MaxConnections, false, 0, nil, s.log)
	srv.ConnState = tr.ConnState
	hs := &h1Server{
		s: s, h: srv.Handler, tr: tr, h2: newChanListener(ln.Addr()),
		maxHead: s.opts.MaxHeaderBytes + 4096, baseCtx: context.Background(),
		conns: make(map[*h1Conn]struct{}),
	}
	s.h1 = hs
	s.listeners = append(s.listeners, tr)
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		err := srv.Serve(hs.h2)
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("HTTP/2 server stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
	go func() {
		defer s.wg.Done()
		err := hs.serve()
		if err != nil && !errors.Is(err, net.ErrClosed) && !s.draining.Load() {
			s.log.Error("listener stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
}

// Sockets returns the listening sockets as bound (plain, TLS; nil when
// not listening), for a successor process to take over.
func (s *Server) Sockets() (plain, secure net.Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.httpLn, s.httpsLn
}

// HTTPAddr returns the bound plain listener address, or nil.
func (s *Server) HTTPAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.httpLn == nil {
		return nil
	}
	return s.httpLn.Addr()
}

// HTTPSAddr returns the bound TLS listener address, or nil.
func (s *Server) HTTPSAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.httpsLn == nil {
		return nil
	}
	return s.httpsLn.Addr()
}

// Shutdown stops accepting connections, closes idle keep-alive connections
// and waits for in-flight requests to finish or ctx to end.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	var errs []error
	if hs := s.h1; hs != nil {
		errs = append(errs, hs.shutdownCtx(ctx))
	}
	for _, srv := range []*http.Server{s.plain, s.secure} {
		if srv != nil {
			errs = append(errs, srv.Shutdown(ctx))
		}
	}
	s.wg.Wait()
	return errors.Join(errs...)
}

// Close closes the listeners and all connections at once. It is idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	var errs []error
	if hs := s.h1; hs != nil {
		errs = append(errs, hs.close())
	}
	for _, srv := range []*http.Server{s.plain, s.secure} {
		if srv != nil {
			errs = append(errs, srv.Close())
		}
	}
	s.wg.Wait()
	return errors.Join(errs...)
}

// openConnections returns the number of open client connections of all
// listeners.
func (s *Server) openConnections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, l := range s.listeners {
		n += l.Open()
	}
	return n
}

// idleConnections returns the number of idle keep-alive client connections
// of all listeners.
func (s *Server) idleConnections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, l := range s.listeners {
		n += l.Idle()
	}
	return n
}
