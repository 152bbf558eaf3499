// Package handover passes cutover's listening sockets from one process to
// the next, so that a restart or an upgrade refuses no connection: a
// socket stays open, and keeps queueing connections, while the process
// serving it changes.
//
// Sockets come from one of three places, in this order: the previous
// process of an upgrade (inherited by fd, as nginx's USR2 and HAProxy's -x
// do, through github.com/cloudflare/tableflip), systemd's socket activation
// (LISTEN_FDS, LISTEN_FDNAMES), or a new bind. Upgrade starts the
// successor with every current socket and waits until it reports ready.
// SO_REUSEPORT is never used: Linux drops the connections queued on a
// closing socket of a reuseport group.
package handover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudflare/tableflip"
	"github.com/coreos/go-systemd/v22/activation"
	"github.com/coreos/go-systemd/v22/daemon"
)

// DefaultTimeout bounds how long a successor may take to become ready.
const DefaultTimeout = 30 * time.Second

// ReportEnv names the environment variable through which a successor
// learns the file where it writes why it could not start.
const ReportEnv = "CUTOVER_UPGRADE_REPORT"

// ErrUpgradeFailed reports a successor that exited, or was not ready in
// time, before taking over; the current process keeps serving.
var ErrUpgradeFailed = errors.New("upgrade failed")

// ErrNotSupported reports an upgrade asked of a process that cannot hand
// its sockets over (one not started by cutover serve).
var ErrNotSupported = errors.New("this process cannot hand its sockets over")

// Options configures New.
type Options struct {
	// PIDFile, if set, receives the pid of the process that serves, each
	// time a process becomes ready (systemd's PIDFile=).
	PIDFile string
	// Timeout bounds how long a successor may take to become ready
	// (default DefaultTimeout); it is then killed.
	Timeout time.Duration
	// ReportFile is where a successor writes why it could not start
	// (default: none).
	ReportFile string
	// Logger receives where each socket came from (default slog.Default()).
	Logger *slog.Logger
}

// Sockets hands out the listening sockets of one cutover process and
// passes them to its successor. Its methods are safe for concurrent use.
// New may be called once per process.
type Sockets struct {
	opts Options
	log  *slog.Logger
	upg  *tableflip.Upgrader

	mu      sync.Mutex
	systemd []*os.File // activated sockets not handed out yet
}

// New takes the sockets inherited from a previous process or from systemd.
func New(opts Options) (*Sockets, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Sockets{opts: opts, log: opts.Logger}
	upg, err := tableflip.New(tableflip.Options{UpgradeTimeout: opts.Timeout, PIDFile: opts.PIDFile})
	switch {
	case err == nil:
		s.upg = upg
	case errors.Is(err, tableflip.ErrNotSupported) || strings.Contains(err.Error(), "only a single Upgrader"):
		// A second serve in one process (tests, the demo): it binds its
		// sockets and cannot upgrade.
		s.log.Warn("upgrades are not possible in this process", "reason", err)
	default:
		return nil, fmt.Errorf("handover: %w", err)
	}
	if !s.Inherited() {
		s.systemd = activation.Files(true)
	}
	_ = os.Unsetenv(ReportEnv) // not for app instances
	return s, nil
}

// Inherited reports whether this process was started by an upgrade, its
// sockets inherited from its predecessor.
func (s *Sockets) Inherited() bool { return s.upg != nil && s.upg.HasParent() }

// Listen returns the listening socket called name (http, https, admin,
// admin-tcp, metrics) for network and addr: the predecessor's when this
// process is its successor and the address is the same, else systemd's
// socket of that name (FileDescriptorName=) or address, else the one bind
// opens.
func (s *Sockets) Listen(name, network, addr string, bind func() (net.Listener, error)) (net.Listener, error) {
	var ln net.Listener
	if s.upg != nil {
		var err error
		if ln, err = s.upg.Listener(network, key(name, addr)); err != nil {
			return nil, fmt.Errorf("handover: inherit %s socket: %w", name, err)
		}
	}
	if ln != nil {
		if network == "unix" || sameAddr(ln.Addr(), network, addr) {
			s.log.Info("socket inherited from the previous process", "socket", name, "addr", addr)
			return ln, nil
		}
		s.log.Warn("inherited socket does not match the config; binding anew", "socket", name,
			"inherited", ln.Addr().String(), "config", addr)
		_ = ln.Close()
	}
	if ln, err := s.fromSystemd(name, network, addr); ln != nil || err != nil {
		return ln, err
	}
	return bind()
}

// fromSystemd returns the activated socket called name, or else the one
// bound to addr, or nil.
func (s *Sockets) fromSystemd(name, network, addr string) (net.Listener, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pick := -1
	for i, f := range s.systemd {
		if f.Name() == name {
			pick = i
			break
		}
	}
	var ln net.Listener
	if pick < 0 {
		for i, f := range s.systemd {
			l, err := net.FileListener(f)
			if err != nil {
				continue
			}
			if sameAddr(l.Addr(), network, addr) {
				pick, ln = i, l
				break
			}
			_ = l.Close()
		}
	}
	if pick < 0 {
		return nil, nil
	}
	f := s.systemd[pick]
	s.systemd = append(s.systemd[:pick], s.systemd[pick+1:]...)
	defer f.Close()
	if ln == nil {
		var err error
		if ln, err = net.FileListener(f); err != nil {
			return nil, fmt.Errorf("handover: systemd socket %s is not a listening socket: %w", f.Name(), err)
		}
	}
	s.log.Info("socket from systemd", "socket", name, "addr", ln.Addr().String())
	return ln, nil
}

// key names a socket passed to a successor by its role and its
// configured address, so that the successor takes it only for the same
// configured address (a unix socket's bound name is not its path: it is
// bound under a temporary name and renamed into place).
func key(name, addr string) string { return name + " " + addr }

// Socket is a listening socket to pass to a successor, with the address
// the config gives it.
type Socket struct {
	Listener net.Listener
	Addr     string
}

// sameAddr reports whether a socket bound to got serves the configured
// network address want: the same unix path, or the same port on the same
// IP (any IP for an empty or unspecified host).
func sameAddr(got net.Addr, network, want string) bool {
	if network == "unix" {
		return got.Network() == "unix" && got.String() == want
	}
	g, ok := got.(*net.TCPAddr)
	if !ok {
		return false
	}
	w, err := net.ResolveTCPAddr("tcp", want)
	if err != nil || w.Port != g.Port {
		return false
	}
	if w.IP == nil || w.IP.IsUnspecified() {
		return g.IP == nil || g.IP.IsUnspecified()
	}
	return w.IP.Equal(g.IP)
}

// WaitForPredecessor waits until the process this one took over from has
// exited (at once when there is none): a process upgrades only once its
// predecessor is gone. It returns ctx's error when ctx ends first.
func (s *Sockets) WaitForPredecessor(ctx context.Context) error {
	if !s.Inherited() {
		return nil
	}
	if err := s.upg.WaitForParent(ctx); err != nil {
		return fmt.Errorf("handover: the previous process: %w", err)
	}
	return nil
}

// Ready tells the predecessor, if any, that this process serves, so that
// it drains and exits; it writes the PID file and tells systemd (with
// NotifyAccess=all, the new process becomes the service's main process).
// Activated sockets not handed out are closed.
func (s *Sockets) Ready() error {
	s.mu.Lock()
	for _, f := range s.systemd {
		s.log.Warn("systemd passed a socket the config does not use; closing it", "socket", f.Name())
		_ = f.Close()
	}
	s.systemd = nil
	s.mu.Unlock()
	if s.upg != nil {
		if err := s.upg.Ready(); err != nil {
			return fmt.Errorf("handover: %w", err)
		}
	}
	if _, err := daemon.SdNotify(false, fmt.Sprintf("MAINPID=%d\n%s", os.Getpid(), daemon.SdNotifyReady)); err != nil {
		s.log.Warn("tell systemd the service is ready", "err", err)
	}
	return nil
}

// Upgrade starts binary ("" for the executable this process was started
// from) with this process's arguments and the sockets given by name
// (with the address the config gives each), and
// waits until it is ready. It returns the successor's pid; an error wraps
// ErrUpgradeFailed with the reason (the successor exited, with what it
// reported, or was not ready within the timeout and was killed), and the
// current process goes on serving. One upgrade runs at a time; after a
// successful one the process must drain and exit.
func (s *Sockets) Upgrade(binary string, sockets map[string]Socket) (int, error) {
	if s.upg == nil {
		return 0, fmt.Errorf("%w: %w", ErrUpgradeFailed, ErrNotSupported)
	}
	for name, sock := range sockets {
		fl, ok := sock.Listener.(tableflip.Listener)
		if !ok {
			return 0, fmt.Errorf("%w: the %s socket (%T) cannot be passed on", ErrUpgradeFailed, name, sock.Listener)
		}
		if err := s.upg.AddListener(sock.Listener.Addr().Network(), key(name, sock.Addr), fl); err != nil {
			return 0, fmt.Errorf("%w: pass the %s socket on: %v", ErrUpgradeFailed, name, err)
		}
	}
	if binary != "" {
		fi, err := os.Stat(binary)
		if err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
			return 0, fmt.Errorf("%w: %s is not an executable file", ErrUpgradeFailed, binary)
		}
		prev := os.Args[0]
		os.Args[0] = binary
		defer func() { os.Args[0] = prev }()
	}
	if s.opts.ReportFile != "" {
		_ = os.Remove(s.opts.ReportFile)
		prev, had := os.LookupEnv(ReportEnv)
		_ = os.Setenv(ReportEnv, s.opts.ReportFile)
		defer func() {
			if had {
				_ = os.Setenv(ReportEnv, prev)
			} else {
				_ = os.Unsetenv(ReportEnv)
			}
		}()
	}
	err := s.upg.Upgrade()
	if err != nil {
		reason := strings.TrimPrefix(err.Error(), "tableflip: ")
		reason = strings.Replace(reason, "new child", "the new process", 1)
		reason = strings.Replace(reason, "child", "the new process", 1)
		if strings.HasSuffix(reason, "timed out") {
			reason += fmt.Sprintf(" (not ready within %s; it was killed)", s.opts.Timeout)
		}
		if s.opts.ReportFile != "" {
			if b, rerr := os.ReadFile(s.opts.ReportFile); rerr == nil && len(b) > 0 {
				reason += ": " + strings.TrimSpace(string(b))
			}
		}
		return 0, fmt.Errorf("%w: %s; this process goes on serving", ErrUpgradeFailed, reason)
	}
	return s.successorPID(), nil
}

// successorPID reads the successor's pid from the PID file (0 when there
// is none).
func (s *Sockets) successorPID() int {
	if s.opts.PIDFile == "" {
		return 0
	}
	b, err := os.ReadFile(s.opts.PIDFile)
	if err != nil {
		return 0
	}
	var pid int
	_, _ = fmt.Sscanf(strings.TrimSpace(string(b)), "%d", &pid)
	return pid
}

// reportPath is where this process, when it is the successor of an
// upgrade, writes why it could not start ("" otherwise), as its
// environment said at start.
var reportPath = os.Getenv(ReportEnv)

// reported is set once Report wrote: the first reason is the one told.
var reported atomic.Bool

// Report writes why this process could not start, for the predecessor
// that started it to tell; it does nothing in a process that is not a
// successor, when err is nil, or after a first report.
func Report(err error) {
	if reportPath == "" || err == nil || !reported.CompareAndSwap(false, true) {
		return
	}
	_ = os.WriteFile(reportPath, []byte(err.Error()+"\n"), 0o600)
}
