package server

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/caddyserver/certmagic"

	"github.com/cutover-dev/cutover/internal/acme"
	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/coord"
)

// errNoCertYet answers a handshake before the first certificate is there.
var errNoCertYet = errors.New("no certificate yet: it is being obtained from the ACME CA")

// acmeSlot is where the listeners find the ACME manager. The listeners
// open first, the manager starts once the coordination store is open;
// until then a handshake fails and HTTP-01 paths go to the proxy. Its
// methods are safe for concurrent use.
type acmeSlot struct {
	cfg *config.ACME
	m   atomic.Pointer[acme.Manager]
}

func newACMESlot(cfg *config.ACME) *acmeSlot {
	if cfg == nil {
		return nil
	}
	return &acmeSlot{cfg: cfg}
}

// GetCertificate is tls.Config.GetCertificate.
func (s *acmeSlot) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if m := s.m.Load(); m != nil {
		return m.GetCertificate(hello)
	}
	return nil, errNoCertYet
}

// NextProtos lists the ALPN protocols of the challenges configured.
func (s *acmeSlot) NextProtos() []string {
	if slices.Contains(s.cfg.Challenges, config.ChallengeTLSALPN01) {
		return []string{"acme-tls/1"}
	}
	return nil
}

// HTTPHandler answers HTTP-01 challenges ahead of next.
func (s *acmeSlot) HTTPHandler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m := s.m.Load(); m != nil && strings.HasPrefix(r.URL.Path, "/.well-known/acme-challenge/") {
			m.HTTPHandler(next).ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// startACME starts obtaining and renewing the certificates of cfg's
// domains into s. One host keeps them in its state directory; a fleet
// keeps them in the coordination store (st), so that one host obtains
// and every host serves.
func startACME(ctx context.Context, cfg *config.Config, st func() coord.Store, s *acmeSlot, log *slog.Logger) (stop func(), err error) {
	a := cfg.Listen.ACME
	var storage certmagic.Storage
	closeStorage := func() {}
	if cfg.Cluster.Backend == config.ClusterLocal {
		storage = &certmagic.FileStorage{Path: filepath.Join(cfg.StateDir, "acme")}
	} else {
		ss := acme.NewStoreStorage(st, cfg.Cluster.Prefix+"acme/", log)
		storage, closeStorage = ss, func() { _ = ss.Close() }
	}
	m, err := acme.New(acme.Options{
		Domains: cfg.ACMEDomains(), CA: a.CA, CARoot: a.CARoot, Email: a.Email, Challenges: a.Challenges,
		Profile: a.Profile, RenewCheck: a.RenewCheck.D(), Storage: storage, Logger: log,
	})
	if err != nil {
		closeStorage()
		return nil, err
	}
	if err := m.Start(ctx); err != nil {
		m.Close()
		closeStorage()
		return nil, err
	}
	s.m.Store(m)
	return func() { m.Close(); closeStorage() }, nil
}

// manage adds the names a reload brought to the certificates managed.
func (s *acmeSlot) manage(domains []string, log *slog.Logger) {
	m := s.m.Load()
	if m == nil {
		return
	}
	if err := m.Manage(domains); err != nil {
		log.Warn("acme: manage the reloaded names", "domains", domains, "err", err)
	}
}
