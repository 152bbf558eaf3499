package proxy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rawVerdict is how a server answered a request written as raw bytes and
// followed by a probe request on the same connection.
type rawVerdict struct {
	status int  // of the first response (0: none)
	served bool // the probe after it was answered: the connection stayed usable
	body   string
}

func (v rawVerdict) String() string {
	return fmt.Sprintf("%dxx served-after=%v", v.status/100, v.served)
}

// probeRequest follows every raw request; it asks the server to close so
// that reading to EOF ends the exchange.
const probeRequest = "GET /probe-after HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"

// rawExchange writes raw and the probe request on a new connection to addr
// and reads every response until the server closes.
func rawExchange(t *testing.T, addr, raw string) rawVerdict {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw+probeRequest); err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(c)
	if err != nil && !isConnReset(err) {
		t.Fatalf("read: %v", err)
	}
	var v rawVerdict
	br := bufio.NewReader(bytes.NewReader(data))
	for i := 0; ; i++ {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			break
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if i == 0 {
			v.status, v.body = resp.StatusCode, strings.TrimSpace(string(body))
		}
		if strings.Contains(string(body), "/probe-after") {
			v.served = i > 0
		}
	}
	return v
}

func isConnReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "broken pipe"))
}

// startNginx runs nginx on loopback with two locations answering like the
// cutover backends of TestRequestVerdictsMatchNginx and returns its
// address. It fails under CI=true when nginx is missing.
func startNginx(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/nginx"); serr == nil {
			bin, err = "/usr/sbin/nginx", nil
		}
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("nginx is not installed (apt-get install nginx)")
		}
		t.Skip("nginx is not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	conf := fmt.Sprintf(`daemon off;
worker_processes 1;
error_log %[1]s/error.log;
pid %[1]s/nginx.pid;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %[1]s/body; proxy_temp_path %[1]s/proxy; fastcgi_temp_path %[1]s/fcgi;
  uwsgi_temp_path %[1]s/uwsgi; scgi_temp_path %[1]s/scgi;
  server {
    listen %[2]s;
    location / { return 200 "root $uri\n"; }
    location /api/ { return 200 "api $uri\n"; }
  }
}
`, dir, addr)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-c", path, "-p", dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cancel(); <-exited })
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return addr
		}
		select {
		case <-exited:
			t.Fatalf("nginx exited: %s", stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not listen on %s: %s", addr, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pathBackend answers with its name and the path it was sent.
func pathBackend(t *testing.T, name string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "%s %s\n", name, r.RequestURI)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// TestRequestVerdictsMatchNginx writes the same bytes to cutover and to
// nginx and compares the class of the answer and whether the connection
// stays usable for the next request. Where cutover differs on purpose the
// case says why.
func TestRequestVerdictsMatchNginx(t *testing.T) {
	ngx := startNginx(t)
	p := newTestProxy(t, Options{})
	err := p.Apply([]ServiceSpec{
		oneSet("root", "v1", TargetSpec{ID: "root", Addr: pathBackend(t, "root")}),
		{Name: "api", PathPrefix: "/api", Active: Set{Version: "v1", Targets: []TargetSpec{{ID: "api", Addr: pathBackend(t, "api")}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := startServer(t, p, ServerOptions{})
	cut := srv.HTTPAddr().String()

	const h = "Host: a\r\n"
	cases := []struct {
		name, raw string
		// want is cutover's verdict; it equals nginx's unless differs
		// gives the reason.
		want       rawVerdict
		wantRoute  string // the service and path cutover forwards to, when served
		nginxRoute string // the location and $uri nginx answers with
		differs    string
	}{
		{name: "plain GET", raw: "GET /x HTTP/1.1\r\n" + h + "\r\n", want: rawVerdict{status: 200, served: true},
			wantRoute: "root /x", nginxRoute: "root /x"},
		{name: "content-length body", raw: "POST / HTTP/1.1\r\n" + h + "Content-Length: 1\r\n\r\nx", want: rawVerdict{status: 200, served: true}},
		{name: "chunked body", raw: "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n", want: rawVerdict{status: 200, served: true}},
		{name: "CL and TE chunked hiding a request", raw: "POST / HTTP/1.1\r\n" + h + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /hidden HTTP/1.1\r\n" + h + "\r\n", want: rawVerdict{status: 400}},
		{name: "TE chunked and CL", raw: "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", want: rawVerdict{status: 400}},
		{name: "two equal Content-Lengths", raw: "POST / HTTP/1.1\r\n" + h + "Content-Length: 1\r\nContent-Length: 1\r\n\r\nx", want: rawVerdict{status: 400}},
		{name: "two different Content-Lengths", raw: "POST / HTTP/1.1\r\n" + h + "Content-Length: 1\r\nContent-Length: 2\r\n\r\nxx", want: rawVerdict{status: 400}},
		{name: "Content-Length with a sign", raw: "POST / HTTP/1.1\r\n" + h + "Content-Length: +1\r\n\r\nx", want: rawVerdict{status: 400}},
		{name: "two TE lines", raw: "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", want: rawVerdict{status: 400}},
		{name: "TE gzip alone", raw: "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: gzip\r\n\r\n", want: rawVerdict{status: 400},
			differs: "nginx answers 501; RFC 9112 section 6.3 requires 400 when chunked is not the last coding"},
		{name: "TE chunked then gzip", raw: "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", want: rawVerdict{status: 400},
			differs: "nginx answers 501; RFC 9112 section 6.3 requires 400 when chunked is not the last coding"},
		{name: "TE gzip then chunked", raw: "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", want: rawVerdict{status: 501}},
		{name: "TE identity with CL", raw: "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: identity\r\nContent-Length: 1\r\n\r\nx", want: rawVerdict{status: 400},
			differs: "nginx answers 501 for the unknown coding; any TE with a Content-Length is refused with 400"},
		{name: "quoted chunked", raw: "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: \"chunked\"\r\n\r\n0\r\n\r\n", want: rawVerdict{status: 400},
			differs: "nginx answers 501; the last coding is not chunked (RFC 9112 section 6.3: 400)"},
		{name: "space before colon", raw: "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n", want: rawVerdict{status: 400}},
		{name: "obs-fold hiding TE", raw: "POST / HTTP/1.1\r\n" + h + "X-A: b\r\n Transfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\nx", want: rawVerdict{status: 400}},
		{name: "obs-fold", raw: "GET / HTTP/1.1\r\n" + h + "X-A: b\r\n c\r\n\r\n", want: rawVerdict{status: 400}},
		{name: "dot segments", raw: "GET /api/../private HTTP/1.1\r\n" + h + "\r\n", want: rawVerdict{status: 200, served: true},
			wantRoute: "root /private", nginxRoute: "root /private"},
		{name: "encoded dot segments", raw: "GET /x/%2e%2e/api/y HTTP/1.1\r\n" + h + "\r\n", want: rawVerdict{status: 200, served: true},
			wantRoute: "api /api/y", nginxRoute: "api /api/y"},
		{name: "merged slashes", raw: "GET //api//x HTTP/1.1\r\n" + h + "\r\n", want: rawVerdict{status: 200, served: true},
			wantRoute: "api /api/x", nginxRoute: "api /api/x"},
		{name: "encoded slash in a name", raw: "GET /api/a%2fb HTTP/1.1\r\n" + h + "\r\n", want: rawVerdict{status: 200, served: true},
			wantRoute: "api /api/a%2Fb", nginxRoute: "api /api/a/b"},
		{name: "encoded slashes around dots", raw: "GET /api%2f..%2fadmin HTTP/1.1\r\n" + h + "\r\n", want: rawVerdict{status: 400},
			differs: "nginx decodes %2F and serves /admin; cutover refuses an encoded separator next to a dot segment"},
		{name: "encoded backslash after dots", raw: "GET /api/..%5cadmin HTTP/1.1\r\n" + h + "\r\n", want: rawVerdict{status: 400},
			differs: "nginx serves it as a name; cutover refuses an encoded separator next to a dot segment"},
		{name: "above the root", raw: "GET /.. HTTP/1.1\r\n" + h + "\r\n", want: rawVerdict{status: 400}},
		{name: "above the root later", raw: "GET /a/../../b HTTP/1.1\r\n" + h + "\r\n", want: rawVerdict{status: 400}},
		{name: "encoded NUL", raw: "GET /a%00b HTTP/1.1\r\n" + h + "\r\n", want: rawVerdict{status: 400}},
		{name: "invalid escape", raw: "GET /a%zzb HTTP/1.1\r\n" + h + "\r\n", want: rawVerdict{status: 400}},
		{name: "no leading slash", raw: "GET api HTTP/1.1\r\n" + h + "\r\n", want: rawVerdict{status: 400}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := rawExchange(t, cut, tc.raw)
			if got.status/100 != tc.want.status/100 || got.served != tc.want.served {
				t.Errorf("cutover: %v (%d %q), want %v", got, got.status, got.body, tc.want)
			}
			if tc.wantRoute != "" && got.body != tc.wantRoute {
				t.Errorf("cutover forwarded %q, want %q", got.body, tc.wantRoute)
			}
			n := rawExchange(t, ngx, tc.raw)
			if tc.nginxRoute != "" && n.body != tc.nginxRoute {
				t.Errorf("nginx answered %q, want %q", n.body, tc.nginxRoute)
			}
			same := n.status/100 == got.status/100 && n.served == got.served
			switch {
			case tc.differs == "" && !same:
				t.Errorf("cutover %v, nginx %v (%d %q)", got, n, n.status, n.body)
			case tc.differs != "" && same:
				t.Errorf("cutover now agrees with nginx (%v); drop the note %q", n, tc.differs)
			}
		})
	}
}
