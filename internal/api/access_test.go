package api_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/api"
	"github.com/cutover-dev/cutover/internal/api/apitest"
	"github.com/cutover-dev/cutover/internal/config"
)

// get sends GET path over TCP with the given bearer token ("" = none).
func (ts *testServer) get(t *testing.T, path, token string) *http.Response {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, ts.tcp+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := noRetryClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestFailedTokensAreRateLimited(t *testing.T) {
	ts := startServer(t, apitest.NewFake(services()...), func(o *api.Options) { o.AuthRate = 20 })
	for i := range api.DefaultAuthBurst {
		if resp := ts.get(t, "/v1/health", "wrong"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: status %d, want 401", i+1, resp.StatusCode)
		}
	}
	resp := ts.get(t, "/v1/health", testToken)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("after %d failures: status %d, want 429 (even with the right token)", api.DefaultAuthBurst, resp.StatusCode)
	}
	if ra := resp.Header.Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After = %q, want 1", ra)
	}
	// The bucket refills at AuthRate per second: the right token is heard again.
	deadline := time.Now().Add(5 * time.Second)
	for ts.get(t, "/v1/health", testToken).StatusCode != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("still refused 5s later")
		}
		time.Sleep(10 * time.Millisecond) // polling the refill, not synchronising
	}
	// The socket has no limiter.
	if err := ts.unix.Health(t.Context()); err != nil {
		t.Fatal(err)
	}
	err := newClient(t, ts.tcp, "wrong").Health(t.Context())
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
		t.Fatalf("client error = %v", err)
	}
}

func TestNewServerRefusesShortToken(t *testing.T) {
	_, err := api.NewServer(api.Options{Backend: apitest.NewFake(), TCP: "127.0.0.1:0", Token: "short"})
	if !errors.Is(err, api.ErrBadOptions) || !errors.Is(err, config.ErrWeakToken) ||
		!strings.Contains(err.Error(), "5 bytes long") || !strings.Contains(err.Error(), "openssl rand -hex 32") {
		t.Fatalf("NewServer = %v", err)
	}
}

// writeCert writes a self-signed certificate for 127.0.0.1 and returns its paths.
func writeCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cutover admin"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestTCPOverTLS(t *testing.T) {
	cert, key := writeCert(t)
	ts := startServer(t, apitest.NewFake(services()...), func(o *api.Options) { o.TLSCert, o.TLSKey = cert, key })
	addr := "https://" + ts.TCPAddr()
	c, err := api.NewClientWithOptions(addr, api.ClientOptions{Token: testToken, CAFile: cert})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.StatusAll(t.Context()); err != nil {
		t.Fatalf("https with the CA: %v", err)
	}
	if err := newClient(t, addr, testToken).Health(t.Context()); err == nil ||
		!strings.Contains(err.Error(), "certificate") {
		t.Fatalf("https without the CA: %v, want a certificate error", err)
	}
	if err := newClient(t, "http://"+ts.TCPAddr(), testToken).Health(t.Context()); err == nil {
		t.Fatal("plain http on the TLS port succeeded")
	}
	if _, err := api.NewClientWithOptions(addr, api.ClientOptions{CAFile: key}); err == nil {
		t.Fatal("a CA file without a certificate was accepted")
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestWarnsOnExposedPlainTCP(t *testing.T) {
	for _, tc := range []struct {
		addr string
		tls  bool
		warn bool
	}{{"127.0.0.1:0", false, false}, {"0.0.0.0:0", false, true}, {"0.0.0.0:0", true, false}} {
		var logs syncBuffer
		startServer(t, apitest.NewFake(), func(o *api.Options) {
			o.TCP = tc.addr
			o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			if tc.tls {
				o.TLSCert, o.TLSKey = writeCert(t)
			}
		})
		got := strings.Count(logs.String(), "level=WARN msg=\"ADMIN API EXPOSED WITHOUT TLS")
		if want := map[bool]int{true: 1, false: 0}[tc.warn]; got != want {
			t.Errorf("%s tls=%v: %d warnings, want %d:\n%s", tc.addr, tc.tls, got, want, logs.String())
		}
	}
}

func TestSocketGroup(t *testing.T) {
	g, err := user.LookupGroupId(strconv.Itoa(os.Getgid()))
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, apitest.NewFake(), func(o *api.Options) { o.TCP, o.SocketGroup = "", g.Name })
	fi, err := os.Stat(ts.SocketPath())
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o660 {
		t.Errorf("socket mode %04o, want 0660", mode)
	}
	if gid := fi.Sys().(*syscall.Stat_t).Gid; int(gid) != os.Getgid() {
		t.Errorf("socket group %d, want %d", gid, os.Getgid())
	}
	dir, _ := os.Stat(filepath.Dir(ts.SocketPath()))
	if dir.Mode().Perm()&0o010 == 0 {
		t.Errorf("socket directory mode %04o: the group cannot reach the socket", dir.Mode().Perm())
	}
	_, err = api.NewServer(api.Options{Backend: apitest.NewFake(), Socket: filepath.Join(shortDir(t), "a.sock"),
		SocketGroup: "no-such-group-cutover"})
	if err == nil {
		srv, _ := api.NewServer(api.Options{Backend: apitest.NewFake(), Socket: filepath.Join(shortDir(t), "a.sock"),
			SocketGroup: "no-such-group-cutover"})
		err = srv.Start(t.Context())
	}
	if err == nil || !strings.Contains(err.Error(), `group "no-such-group-cutover" does not exist`) {
		t.Fatalf("unknown group: %v", err)
	}
}

func TestPermissionDeniedNamesGroup(t *testing.T) {
	ts := startServer(t, apitest.NewFake(), func(o *api.Options) { o.TCP = "" })
	// Root connects whatever the mode; the message is built from the
	// socket's mode and group either way.
	if err := os.Chmod(ts.SocketPath(), 0o000); err != nil {
		t.Fatal(err)
	}
	err := ts.unix.Health(t.Context())
	if os.Geteuid() == 0 {
		if err != nil {
			t.Fatalf("root: %v", err)
		}
		return
	}
	var pe *api.PermissionError
	if !errors.As(err, &pe) || !errors.Is(err, api.ErrUnreachable) {
		t.Fatalf("err = %v, want a PermissionError", err)
	}
	u, _ := user.Current()
	want := "permission denied on " + ts.SocketPath() + ": only " + u.Username + " may use it"
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("err = %q\nwant prefix %q", err, want)
	}
	if err := os.Chmod(ts.SocketPath(), 0o060); err != nil {
		t.Fatal(err)
	}
	g, _ := user.LookupGroupId(strconv.Itoa(os.Getgid()))
	err = ts.unix.Health(t.Context())
	if want := "permission denied on " + ts.SocketPath() + ": add your user to group " + g.Name + " or run as root"; err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
}
