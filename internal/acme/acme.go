// Package acme obtains and renews the HTTPS certificates of cutover's
// public listener from an ACME CA (Let's Encrypt by default), answering
// the HTTP-01 challenge on the plain listener and TLS-ALPN-01 on the TLS
// one. It is a thin layer over certmagic: cutover's config, log and
// storage (the state directory on one host; the cluster's coordination
// store on many, so that one host obtains and every host serves).
//
// A certificate that cannot be renewed (a failed challenge, the CA down)
// keeps serving until it expires; the failure is logged and retried.
package acme

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3"

	"github.com/cutover-dev/cutover/internal/zapslog"
)

// Challenge names.
const (
	HTTP01    = "http-01"
	TLSALPN01 = "tls-alpn-01"
)

// Options configures a Manager.
type Options struct {
	// Domains are the names to hold certificates for.
	Domains []string
	// CA is the ACME directory URL (default Let's Encrypt production).
	CA string
	// CARoot is a PEM file of roots to trust for the CA's own HTTPS
	// (a private CA; default: the system roots).
	CARoot string
	// Email is the ACME account's contact address.
	Email string
	// Challenges lists the challenge types to use (default both).
	Challenges []string
	// Profile asks the CA for a certificate profile ("": its default).
	Profile string
	// RenewCheck is how often the certificates are checked for renewal
	// (default 10 minutes). Certificates are renewed when a third of
	// their lifetime is left.
	RenewCheck time.Duration
	// Storage keeps certificates, keys and accounts.
	Storage certmagic.Storage
	// Logger receives what happens (default slog.Default()).
	Logger *slog.Logger
}

// Manager holds the certificates of the configured domains. Its methods
// are safe for concurrent use.
type Manager struct {
	opts   Options
	log    *slog.Logger
	cache  *certmagic.Cache
	cfg    *certmagic.Config
	issuer *certmagic.ACMEIssuer

	mu      sync.Mutex
	mctx    context.Context // of the renewals; nil until Start
	cancel  context.CancelFunc
	managed []string
}

// New builds a Manager; Start begins obtaining.
func New(opts Options) (*Manager, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.CA == "" {
		opts.CA = certmagic.LetsEncryptProductionCA
	}
	if len(opts.Challenges) == 0 {
		opts.Challenges = []string{HTTP01, TLSALPN01}
	}
	if opts.RenewCheck <= 0 {
		opts.RenewCheck = 10 * time.Minute
	}
	if opts.Storage == nil {
		return nil, errors.New("acme: no storage")
	}
	if len(opts.Domains) == 0 {
		return nil, errors.New("acme: no domain names")
	}
	var roots *x509.CertPool
	if opts.CARoot != "" {
		pem, err := os.ReadFile(opts.CARoot)
		if err != nil {
			return nil, fmt.Errorf("acme: ca_root: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("acme: ca_root %s holds no PEM certificate", opts.CARoot)
		}
	}
	m := &Manager{opts: opts, log: opts.Logger}
	zl := zapslog.Logger(opts.Logger, zapslog.Options{Component: "acme"}) // Info and above: orders, challenges, failures
	m.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert:   func(certmagic.Certificate) (*certmagic.Config, error) { return m.cfg, nil },
		RenewCheckInterval: opts.RenewCheck,
		Logger:             zl,
	})
	m.cfg = certmagic.New(m.cache, certmagic.Config{
		Storage: opts.Storage,
		Logger:  zl,
		OnEvent: m.onEvent,
	})
	m.issuer = certmagic.NewACMEIssuer(m.cfg, certmagic.ACMEIssuer{
		CA:                      opts.CA,
		Email:                   opts.Email,
		Agreed:                  true,
		Profile:                 opts.Profile,
		TrustedRoots:            roots,
		DisableHTTPChallenge:    !slices.Contains(opts.Challenges, HTTP01),
		DisableTLSALPNChallenge: !slices.Contains(opts.Challenges, TLSALPN01),
		Logger:                  zl,
	})
	m.cfg.Issuers = []certmagic.Issuer{m.issuer}
	return m, nil
}

// onEvent logs the certificate lifecycle in cutover's own words.
func (m *Manager) onEvent(_ context.Context, event string, data map[string]any) error {
	switch event {
	case "cert_obtaining":
		m.log.Info("obtaining a certificate", "domain", data["identifier"], "renewal", data["renewal"])
	case "cert_obtained":
		m.log.Info("certificate obtained", "domain", data["identifier"], "renewal", data["renewal"], "issuer", data["issuer"])
	case "cert_failed":
		m.log.Warn("certificate not obtained; the current one (if any) keeps serving, and it is retried",
			"domain", data["identifier"], "renewal", data["renewal"], "err", data["error"])
	}
	return nil
}

// Start obtains (or loads from storage) a certificate for every domain
// in the background, then keeps them renewed until Close.
func (m *Manager) Start(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cancel != nil {
		return errors.New("acme: started twice")
	}
	m.mctx, m.cancel = context.WithCancel(context.WithoutCancel(ctx))
	m.log.Info("managing certificates", "domains", m.opts.Domains, "ca", m.opts.CA, "challenges", m.opts.Challenges)
	if err := m.cfg.ManageAsync(m.mctx, m.opts.Domains); err != nil {
		return err
	}
	m.managed = slices.Clone(m.opts.Domains)
	return nil
}

// Manage adds the names of domains not managed yet (after a reload) and
// obtains their certificates in the background. Names no longer listed
// keep their certificate until cutover restarts.
func (m *Manager) Manage(domains []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mctx == nil {
		return errors.New("acme: not started")
	}
	var added []string
	for _, d := range domains {
		if !slices.Contains(m.managed, d) {
			added = append(added, d)
		}
	}
	if len(added) == 0 {
		return nil
	}
	m.log.Info("managing certificates", "domains", added, "ca", m.opts.CA, "challenges", m.opts.Challenges)
	if err := m.cfg.ManageAsync(m.mctx, added); err != nil {
		return err
	}
	m.managed = append(m.managed, added...)
	return nil
}

// GetCertificate answers a TLS handshake: a TLS-ALPN-01 challenge, or the
// certificate of the name asked for.
func (m *Manager) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return m.cfg.GetCertificate(hello)
}

// NextProtos lists the ALPN protocols the TLS listener must offer on top
// of its own (the TLS-ALPN-01 challenge's).
func (m *Manager) NextProtos() []string {
	if slices.Contains(m.opts.Challenges, TLSALPN01) {
		return []string{acmez.ACMETLS1Protocol}
	}
	return nil
}

// HTTPHandler answers HTTP-01 challenges and hands every other request to
// next.
func (m *Manager) HTTPHandler(next http.Handler) http.Handler {
	return m.issuer.HTTPChallengeHandler(next)
}

// Close stops renewing.
func (m *Manager) Close() {
	m.mu.Lock()
	cancel := m.cancel
	m.cancel = nil
	m.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	m.cache.Stop()
}
