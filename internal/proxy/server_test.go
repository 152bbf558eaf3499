package proxy

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// protoHandler answers with the protocol the request arrived on.
var protoHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	_, _ = io.WriteString(w, r.Proto)
})

func TestSlowHeaderClientIsCutOff(t *testing.T) {
	s, _ := startServer(t, protoHandler, ServerOptions{ReadHeaderTimeout: 200 * time.Millisecond})
	conn, err := net.Dial("tcp", s.HTTPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	// Never finish the headers: the server must close the connection. The
	// read deadline only guards the test against hanging.
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	_, err = io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after %v", time.Since(start))
	}
}

func TestOversizedHeaderGets431(t *testing.T) {
	_, base := startServer(t, protoHandler, ServerOptions{MaxHeaderBytes: 4096})
	req, _ := http.NewRequest("GET", base+"/", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 16<<10))
	resp, err := newClient(false).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d, want 431", resp.StatusCode)
	}
	// A normal request still works.
	resp, err = newClient(false).Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

func TestKeepAliveHTTP1(t *testing.T) {
	_, base := startServer(t, protoHandler, ServerOptions{})
	c := newClient(true)
	conns := 0
	tr := c.Transport.(*http.Transport)
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conns++
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	for i := 0; i < 5; i++ {
		resp, err := c.Get(base + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "HTTP/1.1" {
			t.Fatalf("proto %q", body)
		}
	}
	if conns != 1 {
		t.Fatalf("%d connections for 5 keep-alive requests", conns)
	}
}

func TestH2COnPlainListener(t *testing.T) {
	_, base := startServer(t, protoHandler, ServerOptions{})
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	c := &http.Client{Transport: &http.Transport{Protocols: &protocols}}
	resp, err := c.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.ProtoMajor != 2 || string(body) != "HTTP/2.0" {
		t.Fatalf("proto %s, handler saw %q", resp.Proto, body)
	}
}

func TestHTTP2OverTLSThroughProxy(t *testing.T) {
	be := nameBackend(t, "backend")
	p := newTestProxy(t, Options{})
	if err := p.Apply([]ServiceSpec{oneSet("web", "v1", TargetSpec{ID: "b", Addr: addrOf(be)})}); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, pool := writeTestCert(t)
	s, _ := startServer(t, p, ServerOptions{HTTPSAddr: "127.0.0.1:0", CertFile: certFile, KeyFile: keyFile})
	var protocols http.Protocols
	protocols.SetHTTP2(true)
	c := &http.Client{Transport: &http.Transport{
		Protocols:       &protocols,
		TLSClientConfig: &tls.Config{RootCAs: pool},
	}}
	resp, err := c.Get("https://" + s.HTTPSAddr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.ProtoMajor != 2 || string(body) != "backend" {
		t.Fatalf("proto %s body %q", resp.Proto, body)
	}
	if s.HTTPAddr() != nil {
		t.Fatal("plain listener bound although not configured")
	}
}

func TestServerOptionsValidation(t *testing.T) {
	if _, err := NewServer(protoHandler, ServerOptions{}); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("no address: %v", err)
	}
	if _, err := NewServer(protoHandler, ServerOptions{HTTPSAddr: "127.0.0.1:0"}); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("https without cert: %v", err)
	}
	s, err := NewServer(protoHandler, ServerOptions{HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); !errors.Is(err, ErrServerStarted) {
		t.Fatalf("second Start: %v", err)
	}
	// A second server on the same address fails to bind.
	other, _ := NewServer(protoHandler, ServerOptions{HTTPAddr: s.HTTPAddr().String()})
	if err := other.Start(context.Background()); err == nil {
		t.Fatal("bind on a taken address succeeded")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestShutdownFinishesInFlight(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		_, _ = io.WriteString(w, "done")
	})
	s, err := NewServer(h, ServerOptions{HTTPAddr: "127.0.0.1:0", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	result := make(chan string, 1)
	go func() {
		resp, err := newClient(false).Get("http://" + s.HTTPAddr().String() + "/")
		if err != nil {
			result <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		result <- string(b)
	}()
	<-started
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	// New connections are refused once Shutdown closed the listener.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", s.HTTPAddr().String())
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("listener still accepting during shutdown")
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(release)
	if got := <-result; got != "done" {
		t.Fatalf("in-flight request got %q", got)
	}
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
}

// writeTestCert writes a self-signed certificate for 127.0.0.1 and returns
// the file names and a pool trusting it.
func writeTestCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "cutover test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
