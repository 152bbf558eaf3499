package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"github.com/cutover-dev/cutover/internal/testutil"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rewrite replaces old with new in the env's config file.
func (e *env) rewrite(old, new string) {
	e.t.Helper()
	b, err := os.ReadFile(e.cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		e.t.Fatalf("config has no %q", old)
	}
	if err := os.WriteFile(e.cfg, []byte(strings.Replace(string(b), old, new, 1)), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// TestReloadRefusesToRemoveLiveService: renaming a live service in the file
// is refused by reload (exit 5, naming it), validate shows it beforehand,
// and --allow-remove retires it.
func TestReloadRefusesToRemoveLiveService(t *testing.T) {
	e := newEnv(t, "")
	e.start()
	e.mustCLI("deploy", "shop", "v1")
	e.rewrite("  shop:\n", "  store:\n")

	v := e.cli("validate", "-c", e.cfg)
	if v.code != 0 || !strings.Contains(v.stdout, "services removed: shop (live: reload refuses without --allow-remove)") ||
		!strings.Contains(v.stdout, "services added:   store") {
		t.Errorf("validate: exit %d\n%s%s", v.code, v.stdout, v.stderr)
	}
	r := e.cli("reload")
	if r.code != 5 || !strings.Contains(r.stderr, "shop still serves traffic") || !strings.Contains(r.stderr, "--allow-remove") {
		t.Fatalf("reload: exit %d, want 5 naming shop\n%s%s", r.code, r.stdout, r.stderr)
	}
	if got := e.version(); got != "v1" {
		t.Fatalf("serving %q after a refused reload, want v1", got)
	}
	r = e.mustCLI("reload", "--allow-remove", "-o", "json")
	var out struct {
		Changes struct{ Added, Removed []string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out.Changes.Removed) != 1 || out.Changes.Removed[0] != "shop" {
		t.Fatalf("reload --allow-remove: %v\n%s", err, r.stdout)
	}
	waitFor(t, "the removed service's instance to stop", 20*time.Second, func() bool { return len(e.instances()) == 0 })
	e.stop()
}

// TestReloadMovesListenerAndReportsRestartKeys: a new listen.http is opened
// before the old one closes; keys that need a restart are named in the
// response, the CLI output and the log.
func TestReloadMovesListenerAndReportsRestartKeys(t *testing.T) {
	e := newEnv(t, "")
	e.start()
	e.mustCLI("deploy", "shop", "v1")
	oldAddr := e.http
	newAddr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	e.rewrite(fmt.Sprintf("  http: %q\n", oldAddr), fmt.Sprintf("  http: %q\n  idle_timeout: 30s\n", newAddr))

	r := e.mustCLI("reload")
	for _, want := range []string{"applied:          listen.http", "needs a restart:  listen.idle_timeout"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("reload output lacks %q:\n%s", want, r.stdout)
		}
	}
	if log := e.logs.String(); !strings.Contains(log, "apply only after a restart") || !strings.Contains(log, "listen.idle_timeout") {
		t.Errorf("log does not name the restart keys:\n%s", log)
	}
	e.http = newAddr
	if got := e.version(); got != "v1" {
		t.Errorf("new listener serves %q, want v1", got)
	}
	waitFor(t, "the old listener to close", 10*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", oldAddr, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	// The restart key stays pending on the next reload.
	if r := e.mustCLI("reload"); !strings.Contains(r.stdout, "listen.idle_timeout") || strings.Contains(r.stdout, "applied:") {
		t.Errorf("second reload: %s", r.stdout)
	}
	e.stop()
}

// writeCert writes a self-signed certificate for 127.0.0.1 named cn.
func writeCert(t *testing.T, certFile, keyFile, cn string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	// Write to temporary names and rename, as certificate tools do.
	for file, block := range map[string]*pem.Block{certFile: {Type: "CERTIFICATE", Bytes: der}, keyFile: {Type: "EC PRIVATE KEY", Bytes: kb}} {
		if err := os.WriteFile(file+".tmp", pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, file := range []string{keyFile, certFile} {
		if err := os.Rename(file+".tmp", file); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTLSCertificateReloadsWhenFilesChange: a renewed certificate is served
// without a restart or a reload.
func TestTLSCertificateReloadsWhenFilesChange(t *testing.T) {
	e := newEnv(t, "")
	certFile, keyFile := filepath.Join(e.dir, "cert.pem"), filepath.Join(e.dir, "key.pem")
	writeCert(t, certFile, keyFile, "first")
	httpsAddr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	e.rewrite("listen:\n", fmt.Sprintf("listen:\n  https: %q\n  tls: {cert: %q, key: %q}\n", httpsAddr, certFile, keyFile))
	e.start()
	e.mustCLI("deploy", "shop", "v1")
	served := func() string {
		conn, err := tls.Dial("tcp", httpsAddr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatalf("tls dial: %v", err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	if got := served(); got != "first" {
		t.Fatalf("serving certificate %q, want first", got)
	}
	writeCert(t, certFile, keyFile, "renewed")
	waitFor(t, "the renewed certificate to be served", 15*time.Second, func() bool { return served() == "renewed" })
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, Timeout: 5 * time.Second}
	resp, err := c.Post("https://"+httpsAddr+"/which", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Version") != "v1" {
		t.Errorf("https serves %q", resp.Header.Get("X-Version"))
	}
	e.stop()
}

// TestCLIReachesServerWithBrokenConfig: with the config file broken after
// the start, reload and status still find the server (no CUTOVER_ADMIN, the
// socket found from the file's state_dir/admin.socket) and reload shows the
// server's list of problems.
func TestCLIReachesServerWithBrokenConfig(t *testing.T) {
	e := newEnv(t, "")
	e.start()
	e.mustCLI("deploy", "shop", "v1")
	e.rewrite("    drain_timeout: 10s\n", "    drain_timeout: 10s\n    drian: 1\n    deploy_timeout: 1ns\n")
	e.rewrite("    deploy_timeout: 10s\n", "")
	noAdmin := e.cmdWithoutAdmin
	st := noAdmin("status", "-c", e.cfg)
	if st.code != 0 || !strings.Contains(st.stdout, "shop") {
		t.Errorf("status with a broken config: exit %d\n%s%s", st.code, st.stdout, st.stderr)
	}
	r := noAdmin("reload", "-c", e.cfg)
	if r.code != 2 || !strings.Contains(r.stderr, "drian") || !strings.Contains(r.stderr, "must be at least 1s, got 1ns") {
		t.Errorf("reload with a broken config: exit %d, want 2 with the server's problems\n%s%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stderr, "find the admin socket") {
		t.Errorf("reload did not reach the server:\n%s", r.stderr)
	}
	e.stop()
}

// TestServeJSONReadyLine: serve -o json logs JSON and prints one ready line.
func TestServeJSONReadyLine(t *testing.T) {
	e := newEnv(t, "")
	e.startArgs("-o", "json")
	line, _, _ := strings.Cut(e.stdout.String(), "\n")
	var ready struct {
		Ready       bool   `json:"ready"`
		HTTP        string `json:"http"`
		AdminSocket string `json:"admin_socket"`
		PID         int    `json:"pid"`
	}
	waitFor(t, "the ready line", 10*time.Second, func() bool {
		line, _, _ = strings.Cut(e.stdout.String(), "\n")
		return line != ""
	})
	if err := json.Unmarshal([]byte(line), &ready); err != nil || !ready.Ready || ready.HTTP != e.http ||
		ready.AdminSocket != e.sock || ready.PID != e.serve.Process.Pid {
		t.Errorf("ready line %q: %v", line, err)
	}
	first, _, _ := strings.Cut(e.logs.String(), "\n")
	if !json.Valid([]byte(first)) {
		t.Errorf("log line is not JSON: %q", first)
	}
	e.stop()
}
