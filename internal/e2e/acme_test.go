package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/etcdtest"
	"github.com/cutover-dev/cutover/internal/testutil"
)

// The ACME tests run Pebble, Let's Encrypt's test CA (a Go tool of this
// module), with its DNS stand-in resolving every name to 127.0.0.1.

var (
	pebbleOnce sync.Once
	pebbleBins string
	pebbleErr  error
)

// pebbleBinaries builds pebble and pebble-challtestsrv once per run.
func pebbleBinaries(t *testing.T) string {
	t.Helper()
	pebbleOnce.Do(func() {
		dir, err := os.MkdirTemp("", "co-pebble-bin-")
		if err != nil {
			pebbleErr = err
			return
		}
		out, err := exec.Command("go", "build", "-o", dir+"/",
			"github.com/letsencrypt/pebble/v2/cmd/pebble",
			"github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv").CombinedOutput()
		if err != nil {
			pebbleErr = fmt.Errorf("build pebble: %v\n%s", err, out)
			return
		}
		pebbleBins = dir
	})
	if pebbleErr != nil {
		t.Fatal(pebbleErr)
	}
	return pebbleBins
}

// pebbleCA is one running Pebble.
type pebbleCA struct {
	dirURL string         // ACME directory
	caRoot string         // PEM file of the root Pebble's own HTTPS uses
	roots  *x509.CertPool // the root Pebble issues certificates under
}

// startPebble runs Pebble validating HTTP-01 on httpPort and TLS-ALPN-01
// on tlsPort of 127.0.0.1, issuing certificates valid for validity.
func startPebble(t *testing.T, httpPort, tlsPort int, validity time.Duration) *pebbleCA {
	t.Helper()
	bins := pebbleBinaries(t)
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/letsencrypt/pebble/v2").Output()
	if err != nil {
		t.Fatalf("locate the pebble module: %v", err)
	}
	src := strings.TrimSpace(string(out))
	dir := t.TempDir()
	ports := testutil.FreePorts(t, 4)
	dns := fmt.Sprintf("127.0.0.1:%d", ports[0])
	start := func(name string, args []string, env ...string) {
		cmd := exec.Command(filepath.Join(bins, name), args...)
		cmd.Dir = src
		cmd.Env = append(os.Environ(), env...)
		logs := &testutil.SyncBuffer{}
		cmd.Stdout, cmd.Stderr = logs, logs
		if err := cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", name, err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if t.Failed() {
				t.Logf("%s log:\n%s", name, logs.String())
			}
		})
	}
	start("pebble-challtestsrv", []string{
		"-dnsserver", dns, "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
		"-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "",
		"-management", fmt.Sprintf("127.0.0.1:%d", ports[1]),
	})
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress":           fmt.Sprintf("127.0.0.1:%d", ports[2]),
		"managementListenAddress": fmt.Sprintf("127.0.0.1:%d", ports[3]),
		"certificate":             "test/certs/localhost/cert.pem",
		"privateKey":              "test/certs/localhost/key.pem",
		"httpPort":                httpPort,
		"tlsPort":                 tlsPort,
		"keyAlgorithm":            "ecdsa",
		"profiles": map[string]any{"default": map[string]any{
			"description": "short-lived, for renewal tests", "validityPeriod": int(validity.Seconds()),
		}},
	}}
	b, _ := json.Marshal(cfg)
	cfgFile := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(cfgFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	start("pebble", []string{"-config", cfgFile, "-dnsserver", dns},
		"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0")

	p := &pebbleCA{
		dirURL: fmt.Sprintf("https://127.0.0.1:%d/dir", ports[2]),
		caRoot: filepath.Join(src, "test/certs/pebble.minica.pem"),
	}
	pem, err := os.ReadFile(p.caRoot)
	if err != nil {
		t.Fatal(err)
	}
	own := x509.NewCertPool()
	own.AppendCertsFromPEM(pem)
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: own}}}
	get := func(url string) ([]byte, bool) {
		resp, err := c.Get(url)
		if err != nil {
			return nil, false
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return body, err == nil && resp.StatusCode == 200
	}
	waitFor(t, "pebble serving its directory", 30*time.Second, func() bool { _, ok := get(p.dirURL); return ok })
	root, ok := get(fmt.Sprintf("https://127.0.0.1:%d/roots/0", ports[3]))
	if !ok {
		t.Fatal("pebble: no issuing root")
	}
	p.roots = x509.NewCertPool()
	if !p.roots.AppendCertsFromPEM(root) {
		t.Fatalf("pebble's root is not PEM:\n%s", root)
	}
	return p
}

// gatewayKeys are the service's edge keys in the ACME tests: HTTP-01
// challenges must pass the HTTPS redirect.
const gatewayKeys = `    https_redirect: true
    hsts: {max_age: 1h}
    redirects: [{from: /old/*, to: /new/*}]
    headers: {response: {set: {X-Frame-Options: DENY}}}
`

// acmeEnv is a cutover serve whose HTTPS certificate for shop.test comes
// from a Pebble.
type acmeEnv struct {
	*env
	https string // the HTTPS listener, 127.0.0.1:port
	ca    *pebbleCA
}

// newACMEEnv writes the config: the HTTP-01 challenge reaches cutover's
// plain listener through httpVia when it is set (a fault proxy), else
// directly.
func newACMEEnv(t *testing.T, challenges string, validity time.Duration, httpVia func(target string) string) *acmeEnv {
	t.Helper()
	e := newEnv(t, "    hosts: [shop.test]\n"+gatewayKeys)
	httpsPort := testutil.FreePort(t)
	_, httpPort, _ := net.SplitHostPort(e.http)
	challengePort := httpPort
	if httpVia != nil {
		_, challengePort, _ = net.SplitHostPort(httpVia(e.http))
	}
	var hp int
	fmt.Sscan(challengePort, &hp)
	ca := startPebble(t, hp, httpsPort, validity)
	a := &acmeEnv{env: e, https: fmt.Sprintf("127.0.0.1:%d", httpsPort), ca: ca}
	a.configure(challenges)
	return a
}

// configure adds listen.https and listen.acme to a's config.
func (a *acmeEnv) configure(challenges string) {
	t := a.t
	t.Helper()
	y, err := os.ReadFile(a.cfg)
	if err != nil {
		t.Fatal(err)
	}
	listen := fmt.Sprintf("listen:\n  http: %q\n", a.http)
	block := listen + fmt.Sprintf("  https: %q\n  acme:\n    ca: %q\n    ca_root: %q\n    email: ops@shop.test\n    renew_check: 1s\n    challenges: %s\n",
		a.https, a.ca.dirURL, a.ca.caRoot, challenges)
	if !strings.Contains(string(y), listen) {
		t.Fatalf("config does not start with the listen block:\n%s", y)
	}
	if err := os.WriteFile(a.cfg, []byte(strings.Replace(string(y), listen, block, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
}

// served returns the serial of the certificate served for shop.test, or
// an error when the handshake fails or the chain does not verify against
// Pebble's root.
func (a *acmeEnv) served() (*big.Int, error) { return a.servedFor("shop.test") }

// servedFor is served for another name.
func (a *acmeEnv) servedFor(name string) (*big.Int, error) {
	d := &net.Dialer{Timeout: 2 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", a.https, &tls.Config{ServerName: name, RootCAs: a.ca.roots})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber, nil
}

// client is an HTTPS client for https://shop.test/ through cutover, one
// connection (and handshake) per request, never retrying.
func (a *acmeEnv) client() *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		TLSClientConfig:   &tls.Config{RootCAs: a.ca.roots},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, a.https)
		},
	}}
}

// get requests https://shop.test/which with a POST (never retried) and
// returns the version that answered.
func (a *acmeEnv) get(c *http.Client) (string, error) {
	resp, err := c.Post("https://shop.test/which", "text/plain", strings.NewReader("x"))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("status %d", resp.StatusCode)
	}
	return resp.Header.Get("X-Version"), nil
}

// TestACMEObtainServeRenew: cutover obtains a certificate for shop.test
// from Pebble (HTTP-01 or TLS-ALPN-01, whichever it picks), serves it over
// HTTPS (with the service's redirects and headers), and renews it before it expires while new TLS connections keep
// succeeding; the renewed certificate is the one served afterwards. A
// host name a reload adds gets its certificate too.
func TestACMEObtainServeRenew(t *testing.T) {
	a := newACMEEnv(t, "[http-01, tls-alpn-01]", 30*time.Second, nil)
	a.start()
	a.mustCLI("deploy", "shop", "v1")

	var first *big.Int
	waitFor(t, "a certificate from the ACME CA", 60*time.Second, func() bool {
		s, err := a.served()
		first = s
		return err == nil
	})
	c := a.client()
	if v, err := a.get(c); err != nil || v != "v1" {
		t.Fatalf("https://shop.test/ through cutover: version %q, %v; want v1", v, err)
	}
	if !strings.Contains(a.logs.String(), "certificate obtained") {
		t.Errorf("no \"certificate obtained\" in the log")
	}
	a.checkGateway(c)
	if _, err := os.Stat(filepath.Join(a.dir, "state", "acme")); err != nil {
		t.Errorf("the certificate is not kept in the state directory: %v", err)
	}

	// New connections during the renewal: none may fail.
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := a.get(c); err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
			} else {
				ok.Add(1)
			}
		}
	})
	waitFor(t, "the certificate renewed", 60*time.Second, func() bool {
		s, err := a.served()
		return err == nil && s.Cmp(first) != 0
	})
	close(stop)
	wg.Wait()
	t.Logf("renewed; %d HTTPS requests (a handshake each) meanwhile, %d failed", ok.Load(), failed.Load())
	if failed.Load() > 0 {
		t.Fatalf("%d of %d HTTPS requests failed during the renewal; first: %v", failed.Load(), ok.Load()+failed.Load(), firstErr.Load())
	}
	if ok.Load() == 0 {
		t.Fatal("no request completed during the renewal")
	}

	// A name added by a reload gets its certificate without a restart.
	y, err := os.ReadFile(a.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(a.cfg, []byte(strings.Replace(string(y), "hosts: [shop.test]", "hosts: [shop.test, www.shop.test]", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	a.mustCLI("reload")
	waitFor(t, "a certificate for the name the reload added", 60*time.Second, func() bool {
		_, err := a.servedFor("www.shop.test")
		return err == nil
	})
}

// TestACMEFailedRenewalKeepsServing: HTTP-01 only, reaching cutover
// through a fault proxy. Once the certificate is obtained the proxy is
// closed, so the renewal's challenge fails: the failure is logged and the
// certificate obtained first keeps serving.
func TestACMEFailedRenewalKeepsServing(t *testing.T) {
	var px *etcdtest.FaultProxy
	a := newACMEEnv(t, "[http-01]", 30*time.Second, func(target string) string {
		px = etcdtest.ListenFaultProxy(t, target)
		return px.Addr()
	})
	a.start()
	a.mustCLI("deploy", "shop", "v1")
	var first *big.Int
	waitFor(t, "a certificate from the ACME CA", 60*time.Second, func() bool {
		s, err := a.served()
		first = s
		return err == nil
	})
	if strings.Contains(a.logs.String(), "certificate not obtained") {
		t.Fatalf("a failure before the challenges were cut off:\n%s", a.logs.String())
	}
	px.Close()
	var failure string
	waitFor(t, "a failed renewal in the log", 60*time.Second, func() bool {
		for line := range strings.SplitSeq(a.logs.String(), "\n") {
			if strings.Contains(line, "certificate not obtained") && strings.Contains(line, "renewal=true") {
				failure = line
				return true
			}
		}
		return false
	})
	t.Logf("renewal failed as it should: %s", failure)
	s, err := a.served()
	if err != nil {
		t.Fatalf("after the failed renewal the handshake fails: %v", err)
	}
	if s.Cmp(first) != 0 {
		t.Fatalf("after a failed renewal cutover serves certificate %x, want the first one %x", s, first)
	}
	if v, err := a.get(a.client()); err != nil || v != "v1" {
		t.Fatalf("https://shop.test/ after the failed renewal: version %q, %v; want v1", v, err)
	}
}

// TestACMEFleetSharesCertificates: two hosts on one etcd, both managing
// shop.test, start at once. One obtains the certificate (the lock in the
// coordination store keeps the other waiting), the other loads it from
// the store: both serve the same certificate. The CA validates through h1
// only, so when h2 places the order, h1 answers its challenge from the
// store.
func TestACMEFleetSharesCertificates(t *testing.T) {
	ec := etcdOne(t)
	f := newFleetWith(t, 2, ec.Endpoints(), nil, "    hosts: [shop.test]\n")
	ports := testutil.FreePorts(t, 2)
	_, h1port, _ := net.SplitHostPort(f.host(0).http)
	var hp int
	fmt.Sscan(h1port, &hp)
	ca := startPebble(t, hp, ports[0], 10*time.Minute)
	var hosts []*acmeEnv
	for i := range 2 {
		a := &acmeEnv{env: f.host(i), https: fmt.Sprintf("127.0.0.1:%d", ports[i]), ca: ca}
		a.configure("[http-01, tls-alpn-01]")
		hosts = append(hosts, a)
	}
	f.startAll()
	serials := make([]*big.Int, 2)
	for i, a := range hosts {
		waitFor(t, fmt.Sprintf("%s serving a certificate", f.names[i]), 60*time.Second, func() bool {
			s, err := a.served()
			serials[i] = s
			return err == nil
		})
	}
	if serials[0].Cmp(serials[1]) != 0 {
		t.Fatalf("h1 serves certificate %x, h2 %x: want one certificate for the fleet", serials[0], serials[1])
	}
	obtained := 0
	for i, a := range hosts {
		if n := strings.Count(a.logs.String(), "msg=\"certificate obtained\""); n > 0 {
			t.Logf("%s obtained the certificate", f.names[i])
			obtained += n
		}
	}
	if obtained != 1 {
		t.Fatalf("the certificate was obtained %d times, want once for the fleet", obtained)
	}
	if _, err := os.Stat(filepath.Join(f.host(0).dir, "state", "acme")); err == nil {
		t.Errorf("a fleet host keeps certificates in its state directory; they belong in the coordination store")
	}
}

// checkGateway checks the edge keys of gatewayKeys through the binary.
func (a *acmeEnv) checkGateway(c *http.Client) {
	t := a.t
	t.Helper()
	noFollow := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("POST", "http://"+a.http+"/which?x=1", strings.NewReader("x"))
	req.Host = "shop.test"
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_, port, _ := net.SplitHostPort(a.https)
	if want := "https://shop.test:" + port + "/which?x=1"; resp.StatusCode != 308 || resp.Header.Get("Location") != want {
		t.Errorf("plain HTTP: %d Location %q, want 308 %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	resp, err = c.Post("https://shop.test/which", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Strict-Transport-Security") != "max-age=3600" || resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("HTTPS response headers: HSTS %q, X-Frame-Options %q", resp.Header.Get("Strict-Transport-Security"), resp.Header.Get("X-Frame-Options"))
	}
	hc := *c
	hc.CheckRedirect = noFollow.CheckRedirect
	resp, err = hc.Get("https://shop.test/old/a?b=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 301 || resp.Header.Get("Location") != "/new/a?b=1" {
		t.Errorf("redirect /old/*: %d Location %q, want 301 /new/a?b=1", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestACMETLSALPNOnly: with tls-alpn-01 alone the CA validates on the
// HTTPS listener (the acme-tls/1 protocol) and the certificate is served.
func TestACMETLSALPNOnly(t *testing.T) {
	a := newACMEEnv(t, "[tls-alpn-01]", 10*time.Minute, nil)
	a.start()
	a.mustCLI("deploy", "shop", "v1")
	waitFor(t, "a certificate from the ACME CA", 60*time.Second, func() bool {
		_, err := a.served()
		return err == nil
	})
	if v, err := a.get(a.client()); err != nil || v != "v1" {
		t.Fatalf("https://shop.test/ through cutover: version %q, %v; want v1", v, err)
	}
	if !strings.Contains(a.logs.String(), "challenge_type=tls-alpn-01") {
		t.Errorf("the log does not show the tls-alpn-01 challenge being used")
	}
}
