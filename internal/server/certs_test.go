package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writePair writes a self-signed certificate with common name cn.
func writePair(t *testing.T, certFile, keyFile, cn string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func commonName(t *testing.T, h *certHolder) string {
	t.Helper()
	c, err := h.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf.Subject.CommonName
}

func TestCertHolderRefresh(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	writePair(t, certFile, keyFile, "one")
	h, err := newCertHolder(slog.New(slog.DiscardHandler), certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	h.refresh() // unchanged files: nothing to do
	if got := commonName(t, h); got != "one" {
		t.Fatalf("serving %q, want one", got)
	}
	writePair(t, certFile, keyFile, "two")
	future := time.Now().Add(time.Minute) // a distinct mtime even on coarse clocks
	os.Chtimes(certFile, future, future)
	h.refresh()
	if got := commonName(t, h); got != "two" {
		t.Fatalf("after the files changed serving %q, want two", got)
	}
	// A half-written pair (key missing) leaves the current certificate.
	os.Remove(keyFile)
	h.refresh()
	if got := commonName(t, h); got != "two" {
		t.Errorf("after a broken change serving %q, want two", got)
	}
	if _, err := newCertHolder(slog.New(slog.DiscardHandler), certFile, keyFile); err == nil {
		t.Error("newCertHolder without a key succeeded")
	}
}
