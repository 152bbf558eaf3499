package proxy

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawTLSExchange is rawExchange over TLS (HTTP/1.1 by ALPN).
func rawTLSExchange(t *testing.T, addr string, cfg *tls.Config, raw string) (rawVerdict, []*http.Response) {
	t.Helper()
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if p := c.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
		t.Fatalf("ALPN chose %q, want http/1.1", p)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw+probeRequest); err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(c)
	if err != nil && !isConnReset(err) {
		t.Fatalf("read: %v", err)
	}
	var v rawVerdict
	var resps []*http.Response
	br := bufio.NewReader(bytes.NewReader(data))
	for i := 0; ; i++ {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			break
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		resps = append(resps, resp)
		if i == 0 {
			v.status, v.body = resp.StatusCode, strings.TrimSpace(string(body))
		} else {
			v.served = true
		}
	}
	return v, resps
}

// TestTLSListenerGuardsFramingAndSetsHeaders checks that TLS terminated by
// the listener keeps the smuggling checks and that the app still learns
// the request came over HTTPS and from whom.
func TestTLSListenerGuardsFramingAndSetsHeaders(t *testing.T) {
	be := httptestEcho(t)
	p := newTestProxy(t, Options{})
	if err := p.Apply([]ServiceSpec{oneSet("web", "v1", TargetSpec{ID: "e", Addr: addrOf(be)})}); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, pool := writeTestCert(t)
	s, _ := startServer(t, p, ServerOptions{HTTPSAddr: "127.0.0.1:0", CertFile: certFile, KeyFile: keyFile})
	addr := s.HTTPSAddr().String()
	cfg := &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}}

	v, _ := rawTLSExchange(t, addr, cfg, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /hidden HTTP/1.1\r\nHost: a\r\n\r\n")
	if v.status != 400 || v.served {
		t.Errorf("CL and TE over TLS: %d served-after=%v, want 400 and the connection closed", v.status, v.served)
	}

	v, resps := rawTLSExchange(t, addr, cfg, "GET /x HTTP/1.1\r\nHost: shop.test\r\nX-Real-IP: 203.0.113.9\r\nForwarded: for=203.0.113.9\r\nX-Forwarded-Proto: http\r\n\r\n")
	if v.status != 200 || !v.served {
		t.Fatalf("plain GET over TLS: %d served-after=%v", v.status, v.served)
	}
	h := resps[0].Header
	if got := h.Values("Echo-X-Real-Ip"); len(got) != 1 || got[0] != "127.0.0.1" {
		t.Errorf("X-Real-IP %q from an untrusted peer, want [127.0.0.1]", got)
	}
	if got := h.Get("Echo-Forwarded"); got != "" {
		t.Errorf("Forwarded %q from an untrusted peer reached the app", got)
	}
	if got := h.Get("Echo-X-Forwarded-Proto"); got != "https" {
		t.Errorf("X-Forwarded-Proto %q, want https", got)
	}
}
