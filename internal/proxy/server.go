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
	"time"
)

// Server defaults.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
)

// ServerOptions configures the public listeners.
type ServerOptions struct {
	// HTTPAddr is the plain listener ("host:port"); it serves HTTP/1.1 and
	// HTTP/2 with prior knowledge (h2c). Empty disables it.
	HTTPAddr string
	// HTTPSAddr is the TLS listener; it serves HTTP/1.1 and HTTP/2 and
	// requires CertFile and KeyFile. Empty disables it.
	HTTPSAddr string
	// CertFile and KeyFile name the PEM certificate chain and key for HTTPS.
	CertFile, KeyFile string
	// GetCertificate, if set, supplies the HTTPS certificate at each
	// handshake instead of CertFile and KeyFile, so that it can be replaced
	// while the listener runs. It must be safe for concurrent use.
	GetCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// ReadHeaderTimeout bounds how long a client may take to send request
	// headers (default 10s); slower clients are disconnected.
	ReadHeaderTimeout time.Duration
	// IdleTimeout bounds an idle keep-alive connection (default 120s).
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds request headers (default 64 KiB); larger ones get 431.
	MaxHeaderBytes int
	// Logger receives server errors (default slog.Default()).
	Logger *slog.Logger
	// OnRejected, if set, is told of each request the plain listener
	// answers itself before any handler runs (431, 400): the client
	// address, status and status text. Proxy.LogRejected fits. TLS
	// listeners do not report them.
	OnRejected func(client string, status int, reason string)
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

	mu      sync.Mutex
	started bool
	closed  bool
	httpLn  net.Listener
	httpsLn net.Listener
	wg      sync.WaitGroup
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
	if opts.ReadHeaderTimeout < 0 || opts.IdleTimeout < 0 || opts.MaxHeaderBytes < 0 {
		return nil, fmt.Errorf("%w: timeouts and header size must not be negative", ErrInvalidOptions)
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
		var protocols http.Protocols
		protocols.SetHTTP1(true)
		protocols.SetHTTP2(true)
		s.secure = s.newHTTPServer(h, &protocols)
		s.secure.TLSConfig = tc
	}
	return s, nil
}

func (s *Server) newHTTPServer(h http.Handler, protocols *http.Protocols) *http.Server {
	return &http.Server{
		Handler:           h,
		Protocols:         protocols,
		ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
		IdleTimeout:       s.opts.IdleTimeout,
		MaxHeaderBytes:    s.opts.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
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
		ln, err := lc.Listen(ctx, "tcp", s.opts.HTTPAddr)
		if err != nil {
			return fmt.Errorf("listen http %s: %w", s.opts.HTTPAddr, err)
		}
		s.httpLn = ln
	}
	if s.secure != nil {
		ln, err := lc.Listen(ctx, "tcp", s.opts.HTTPSAddr)
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
		s.serve(s.plain, s.httpLn, false)
	}
	if s.httpsLn != nil {
		s.serve(s.secure, s.httpsLn, true)
	}
	return nil
}

func (s *Server) serve(srv *http.Server, ln net.Listener, secure bool) {
	s.wg.Add(1)
	if !secure && s.opts.OnRejected != nil {
		ln = &rejectListener{Listener: ln, onReject: s.opts.OnRejected}
	}
	go func() {
		defer s.wg.Done()
		var err error
		if secure {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("listener stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
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
	for _, srv := range []*http.Server{s.plain, s.secure} {
		if srv != nil {
			errs = append(errs, srv.Close())
		}
	}
	s.wg.Wait()
	return errors.Join(errs...)
}
