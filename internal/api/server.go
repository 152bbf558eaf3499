package api

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/dashboard"
)

// Defaults of Options.
const (
	// DefaultHeartbeat is how often an idle event stream gets a blank line.
	DefaultHeartbeat = 15 * time.Second
	// readHeaderTimeout bounds how long a client may take to send headers.
	readHeaderTimeout = 10 * time.Second
	// idleTimeout bounds an idle keep-alive connection.
	idleTimeout = 120 * time.Second
	// shutdownTimeout bounds waiting for requests in flight on Close.
	shutdownTimeout = 5 * time.Second
)

// Options configures a Server.
type Options struct {
	// Backend serves the requests. Required.
	Backend Backend
	// Logger receives request and error logs (default slog.Default()).
	Logger *slog.Logger
	// Socket is the unix socket path to listen on ("" = none). The socket is
	// created mode 0600 (0660 with SocketGroup); requests on it need no token.
	Socket string
	// SocketGroup, if set, is the group (name or id) the socket is chown'd
	// to, with mode 0660, so that its members may use the admin API.
	SocketGroup string
	// TCP is a TCP address to listen on, e.g. "127.0.0.1:7070" ("" = none).
	// Every request on it must carry "Authorization: Bearer <Token>".
	// A non-loopback address without TLS is logged at warn level at Start.
	TCP string
	// TLSCert and TLSKey, if set, are the PEM certificate and key files
	// with which TCP is served over HTTPS (default: plain HTTP).
	TLSCert, TLSKey string
	// Token is the bearer token required on TCP. Required when TCP is set,
	// at least config.MinTokenBytes long.
	Token string
	// AuthBurst and AuthRate limit failed token attempts per client IP on
	// TCP: AuthBurst failures (default DefaultAuthBurst), then AuthRate per
	// second (default DefaultAuthRate); beyond that a client gets 429 with
	// Retry-After.
	AuthBurst int
	AuthRate  float64
	// Metrics, if not nil, is served at GET /metrics.
	Metrics http.Handler
	// Heartbeat is how often an idle event stream gets a blank line
	// (default DefaultHeartbeat).
	Heartbeat time.Duration
	// Listen, if set, opens the listening sockets instead of binding
	// Socket and TCP: name is "admin" (the unix socket) or "admin-tcp";
	// bind opens the socket when there is none to take over (from a
	// previous process or systemd).
	Listen func(name, network, addr string, bind func() (net.Listener, error)) (net.Listener, error)
	// Dashboard serves the web dashboard under /ui/ and the traffic stream
	// (default: the page and its logins without a traffic stream).
	Dashboard *dashboard.UI
}

// Server is the admin API server. Start binds and serves in the background;
// Close stops it. Its methods are safe for concurrent use.
type Server struct {
	opts      Options
	log       *slog.Logger
	mux       *http.ServeMux
	limiter   *authLimiter
	ui        *dashboard.UI
	tlsConfig *tls.Config // nil: plain HTTP on TCP

	mu       sync.Mutex
	started  bool
	closed   bool
	unixL    *net.UnixListener
	tcpL     net.Listener
	tcpRaw   net.Listener // tcpL without TLS
	handover bool         // a successor serves the socket: Close leaves its file
	servers  []*http.Server
	ctx      context.Context // base context of requests; done on Close
	cancel   context.CancelFunc
	stopHook func() bool

	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// NewServer validates opts and returns a Server that is not listening yet.
func NewServer(opts Options) (*Server, error) {
	switch {
	case opts.Backend == nil:
		return nil, fmt.Errorf("%w: Backend is required", ErrBadOptions)
	case opts.Socket == "" && opts.TCP == "":
		return nil, fmt.Errorf("%w: set Socket, TCP or both", ErrBadOptions)
	case opts.TCP != "" && opts.Token == "":
		return nil, fmt.Errorf("%w: listening on TCP %s requires a token (admin.token_file or CUTOVER_TOKEN)",
			ErrBadOptions, opts.TCP)
	case opts.Heartbeat < 0:
		return nil, fmt.Errorf("%w: Heartbeat must not be negative", ErrBadOptions)
	case (opts.TLSCert == "") != (opts.TLSKey == ""):
		return nil, fmt.Errorf("%w: TLS on the admin tcp listener needs both a certificate and a key", ErrBadOptions)
	case opts.AuthBurst < 0 || opts.AuthRate < 0:
		return nil, fmt.Errorf("%w: AuthBurst and AuthRate must not be negative", ErrBadOptions)
	}
	if opts.TCP != "" {
		if err := config.CheckToken(opts.Token); err != nil {
			return nil, fmt.Errorf("%w: admin token: %w", ErrBadOptions, err)
		}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Heartbeat == 0 {
		opts.Heartbeat = DefaultHeartbeat
	}
	if opts.AuthBurst == 0 {
		opts.AuthBurst = DefaultAuthBurst
	}
	if opts.AuthRate == 0 {
		opts.AuthRate = DefaultAuthRate
	}
	s := &Server{opts: opts, log: opts.Logger, limiter: newAuthLimiter(opts.AuthRate, opts.AuthBurst, time.Now)}
	if opts.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(opts.TLSCert, opts.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("%w: admin tls certificate: %w", ErrBadOptions, err)
		}
		s.tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	}
	s.ui = opts.Dashboard
	if s.ui == nil {
		s.ui = dashboard.New(dashboard.Options{})
	}
	s.mux = s.routes()
	return s, nil
}

// Start binds the configured listeners and serves them in the background.
// It returns once the listeners accept connections, or with the first bind
// error (leaving nothing bound). The server closes by itself, as by Close,
// when ctx is done. Start may be called once.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.started {
		return ErrStarted
	}
	s.started = true
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	if err := s.listen(); err != nil {
		s.cancel()
		return err
	}
	base := func(net.Listener) context.Context { return s.ctx }
	if s.unixL != nil {
		s.serve(&http.Server{Handler: s.handler(false), BaseContext: base,
			ReadHeaderTimeout: readHeaderTimeout, IdleTimeout: idleTimeout}, s.unixL)
	}
	if s.tcpL != nil {
		s.serve(&http.Server{Handler: s.handler(true), BaseContext: base,
			ReadHeaderTimeout: readHeaderTimeout, IdleTimeout: idleTimeout}, s.tcpL)
	}
	s.stopHook = context.AfterFunc(ctx, func() { _ = s.Close() })
	s.log.Info("admin api listening", "socket", s.opts.Socket, "tcp", s.tcpAddrLocked(), "tls", s.tlsConfig != nil)
	if s.tcpL != nil && s.tlsConfig == nil && !config.IsLoopback(s.opts.TCP) {
		s.log.Warn("ADMIN API EXPOSED WITHOUT TLS: admin.tcp binds a non-loopback address over plain HTTP; "+
			"the token and every request cross the network in clear text",
			"tcp", s.tcpAddrLocked(), "fix", "set admin.tls.cert and admin.tls.key, or bind admin.tcp to 127.0.0.1")
	}
	return nil
}

// listen binds the listeners (or takes them through Options.Listen),
// closing what it bound on failure.
func (s *Server) listen() error {
	via := s.opts.Listen
	if via == nil {
		via = func(_, _, _ string, bind func() (net.Listener, error)) (net.Listener, error) { return bind() }
	}
	if s.opts.Socket != "" {
		l, err := via("admin", "unix", s.opts.Socket, func() (net.Listener, error) {
			return listenUnix(s.opts.Socket, s.opts.SocketGroup)
		})
		if err != nil {
			return err
		}
		ul, ok := l.(*net.UnixListener)
		if !ok {
			_ = l.Close()
			return fmt.Errorf("%w: the admin socket %s is not a unix socket", ErrBadOptions, s.opts.Socket)
		}
		ul.SetUnlinkOnClose(false)
		s.unixL = ul
	}
	if s.opts.TCP != "" {
		l, err := via("admin-tcp", "tcp", s.opts.TCP, func() (net.Listener, error) { return net.Listen("tcp", s.opts.TCP) })
		if err != nil {
			if s.unixL != nil {
				_ = s.unixL.Close()
				_ = os.Remove(s.opts.Socket)
				s.unixL = nil
			}
			return fmt.Errorf("listen on admin tcp: %w", err)
		}
		s.tcpRaw = l
		if s.tlsConfig != nil {
			l = tls.NewListener(l, s.tlsConfig)
		}
		s.tcpL = l
	}
	return nil
}

// Sockets returns the listening sockets by name ("admin", "admin-tcp"),
// for a successor process to take over.
func (s *Server) Sockets() map[string]net.Listener {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]net.Listener{}
	if s.unixL != nil {
		out["admin"] = s.unixL
	}
	if s.tcpRaw != nil {
		out["admin-tcp"] = s.tcpRaw
	}
	return out
}

// SocketAddrs returns the configured address of each socket Sockets
// returns.
func (s *Server) SocketAddrs() map[string]string {
	return map[string]string{"admin": s.opts.Socket, "admin-tcp": s.opts.TCP}
}

// Handover marks the sockets as taken over by a successor process: Close
// then stops serving them without removing the unix socket's file.
func (s *Server) Handover() {
	s.mu.Lock()
	s.handover = true
	s.mu.Unlock()
}

// serve runs srv on l in a goroutine owned by s (stopped by Close).
func (s *Server) serve(srv *http.Server, l net.Listener) {
	s.servers = append(s.servers, srv)
	s.wg.Go(func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("admin api serve failed", "addr", l.Addr().String(), "err", err)
		}
	})
}

// Close stops the listeners, ends event streams, waits up to a few seconds
// for other requests in flight and removes the unix socket. It is safe to
// call more than once and before Start; later calls return the first result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		servers := s.servers
		if s.stopHook != nil {
			s.stopHook()
		}
		if s.cancel != nil {
			s.cancel()
		}
		s.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		for _, srv := range servers {
			if err := srv.Shutdown(ctx); err != nil {
				s.closeErr = errors.Join(s.closeErr, srv.Close())
			}
		}
		s.wg.Wait()
		s.mu.Lock()
		keep := s.handover
		s.mu.Unlock()
		if s.unixL != nil && !keep {
			if err := os.Remove(s.opts.Socket); err != nil && !os.IsNotExist(err) {
				s.closeErr = errors.Join(s.closeErr, fmt.Errorf("remove admin socket: %w", err))
			}
		}
	})
	return s.closeErr
}

// SocketPath returns the unix socket path ("" when not listening on one).
func (s *Server) SocketPath() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unixL == nil {
		return ""
	}
	return s.opts.Socket
}

// TCPAddr returns the bound TCP address, with the real port when Options.TCP
// asked for port 0 ("" when not listening on TCP).
func (s *Server) TCPAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tcpAddrLocked()
}

func (s *Server) tcpAddrLocked() string {
	if s.tcpL == nil {
		return ""
	}
	return s.tcpL.Addr().String()
}
