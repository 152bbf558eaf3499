package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// certCheckInterval is how often the certificate and key files are checked
// for changes.
var certCheckInterval = 2 * time.Second

// fileStamp identifies one version of a file by what stat reports.
type fileStamp struct {
	size    int64
	modTime time.Time
}

func stampOf(path string) (fileStamp, error) {
	fi, err := os.Stat(path) // follows symlinks, so a swapped link counts as a change
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{size: fi.Size(), modTime: fi.ModTime()}, nil
}

// certHolder serves the HTTPS certificate through GetCertificate and
// replaces it when its files change or a reload names other files. A pair
// that fails to load leaves the current certificate serving. Its methods
// are safe for concurrent use.
type certHolder struct {
	log *slog.Logger

	mu         sync.RWMutex
	cert       *tls.Certificate
	certFile   string
	keyFile    string
	stamps     [2]fileStamp // of certFile and keyFile when cert was loaded
	failedWith [2]fileStamp // stamps of the last pair that failed, to log it once
}

// loadPair reads a certificate and key, with the stamps they had.
func loadPair(certFile, keyFile string) (*tls.Certificate, [2]fileStamp, error) {
	var st [2]fileStamp
	var err error
	if st[0], err = stampOf(certFile); err != nil {
		return nil, st, fmt.Errorf("certificate %s: %w", certFile, err)
	}
	if st[1], err = stampOf(keyFile); err != nil {
		return nil, st, fmt.Errorf("key %s: %w", keyFile, err)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, st, fmt.Errorf("load certificate %s and key %s: %w", certFile, keyFile, err)
	}
	return &cert, st, nil
}

// newCertHolder loads certFile and keyFile.
func newCertHolder(log *slog.Logger, certFile, keyFile string) (*certHolder, error) {
	cert, st, err := loadPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	return &certHolder{log: log, cert: cert, certFile: certFile, keyFile: keyFile, stamps: st}, nil
}

// GetCertificate returns the current certificate; it is tls.Config.GetCertificate.
func (h *certHolder) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.cert, nil
}

// set makes cert, read from certFile and keyFile, the one served.
func (h *certHolder) set(cert *tls.Certificate, certFile, keyFile string, st [2]fileStamp) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cert, h.certFile, h.keyFile, h.stamps = cert, certFile, keyFile, st
}

// refresh reloads the files when they changed since the current
// certificate was read.
func (h *certHolder) refresh() {
	h.mu.RLock()
	certFile, keyFile, old, failed := h.certFile, h.keyFile, h.stamps, h.failedWith
	h.mu.RUnlock()
	var now [2]fileStamp
	var err0, err1 error
	now[0], err0 = stampOf(certFile)
	now[1], err1 = stampOf(keyFile)
	if now == old {
		return
	}
	cert, st, err := loadPair(certFile, keyFile)
	if err != nil {
		if err = errors.Join(err0, err1, err); now != failed {
			h.log.Warn("tls certificate changed but does not load; the previous one keeps serving",
				"cert", certFile, "key", keyFile, "err", err)
			h.mu.Lock()
			h.failedWith = now
			h.mu.Unlock()
		}
		return
	}
	h.set(cert, certFile, keyFile, st)
	h.log.Info("tls certificate reloaded", "cert", certFile, "key", keyFile)
}

// watch refreshes the certificate every certCheckInterval until ctx ends.
func (h *certHolder) watch(ctx context.Context) {
	t := time.NewTicker(certCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.refresh()
		}
	}
}
