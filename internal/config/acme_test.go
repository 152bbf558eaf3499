package config

import (
	"slices"
	"strings"
	"testing"
)

func TestACMEDefaultsAndDomains(t *testing.T) {
	c, err := parse([]byte(`
listen:
  http: ":80"
  https: ":443"
  acme: {email: ops@example.com}
services:
  web: {hosts: [shop.example.com, "*.example.com", localhost, 10.0.0.1], process: {command: sh}, ports: [1, 2]}
  api: {hosts: [api.example.com, shop.example.com], path_prefix: /api, process: {command: sh}, ports: [3, 4]}
`), "c.yaml", userEnv)
	if err != nil {
		t.Fatal(err)
	}
	a := c.Listen.ACME
	if !slices.Equal(a.Challenges, []string{ChallengeHTTP01, ChallengeTLSALPN01}) || a.RenewCheck != DefaultACMERenewCheck {
		t.Errorf("defaults: challenges %v, renew_check %s", a.Challenges, a.RenewCheck)
	}
	if got := c.ACMEDomains(); !slices.Equal(got, []string{"shop.example.com", "api.example.com"}) {
		t.Errorf("ACMEDomains = %v, want the exact DNS names of the services, once each", got)
	}
}

func TestACMEErrors(t *testing.T) {
	for _, tc := range []struct{ name, listen, hosts, want string }{
		{"no https", `{http: ":80", acme: {}}`, "[a.example.com]",
			"c.yaml:2: listen.acme: acme is set but listen.https is not; set listen.https"},
		{"files too", `{https: ":443", tls: {cert: c.pem, key: k.pem}, acme: {}}`, "[a.example.com]",
			"listen.tls and listen.acme are both set; remove listen.tls (certificates come from ACME) or remove listen.acme"},
		{"unknown challenge", `{http: ":80", https: ":443", acme: {challenges: [dns-01]}}`, "[a.example.com]",
			`listen.acme.challenges[0]: unknown value "dns-01"`},
		{"http-01 without http", `{https: ":443", acme: {challenges: [http-01]}}`, "[a.example.com]",
			"http-01 needs listen.http; set listen.http (the CA connects to port 80), or use tls-alpn-01 only"},
		{"wildcard", `{http: ":80", https: ":443", acme: {domains: ["*.example.com"]}}`, "[a.example.com]",
			`listen.acme.domains[0]: wildcard "*.example.com"; name each host: a wildcard certificate needs the DNS-01 challenge`},
		{"no domain", `{http: ":80", https: ":443", acme: {}}`, `["*"]`,
			"listen.acme.domains: no domain: the services route only \"*\" or wildcards"},
		{"plain http CA", `{http: ":80", https: ":443", acme: {ca: "http://ca.local/dir"}}`, "[a.example.com]",
			`listen.acme.ca: "http://ca.local/dir" is not an https URL`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := "\nlisten: " + tc.listen + "\nservices:\n  web: {hosts: " + tc.hosts + ", process: {command: sh}, ports: [1, 2]}\n"
			_, err := parse([]byte(y), "c.yaml", userEnv)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("parse:\n%v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

func TestGatewayConfig(t *testing.T) {
	c, err := parse([]byte(`
listen: {http: ":80", https: ":443", acme: {}}
services:
  web:
    hosts: [example.com, www.example.com]
    process: {command: sh}
    ports: [1, 2]
    https_redirect: true
    hsts: {include_subdomains: true}
    canonical_host: example.com
    redirects:
      - {from: /old/*, to: /new/*}
      - {from: /blog, to: "https://blog.example.com/", status: 308}
    headers:
      response: {set: {X-Frame-Options: DENY}, remove: [Server]}
`), "c.yaml", userEnv)
	if err != nil {
		t.Fatal(err)
	}
	s := c.Services["web"]
	if s.Redirects[0].Status != 301 || s.Redirects[1].Status != 308 {
		t.Errorf("redirect statuses %d, %d; want the default 301 and the 308 given", s.Redirects[0].Status, s.Redirects[1].Status)
	}
	if got := s.HSTS.Header(); got != "max-age=31536000; includeSubDomains" {
		t.Errorf("HSTS header %q", got)
	}
}

func TestGatewayErrors(t *testing.T) {
	for _, tc := range []struct{ name, listen, svc, want string }{
		{"redirect without https", `{http: ":80"}`, "https_redirect: true",
			"services.web.https_redirect: redirects to HTTPS, but there is no HTTPS listener"},
		{"preload", `{http: ":80"}`, "hsts: {preload: true}",
			"services.web.hsts.preload: preload without include_subdomains"},
		{"from not a path", `{http: ":80"}`, "redirects: [{from: old, to: /new}]",
			`services.web.redirects[0].from: "old" is not a path`},
		{"star inside", `{http: ":80"}`, "redirects: [{from: /a/*/b, to: /new}]",
			`services.web.redirects[0].from: "/a/*/b" has a * inside`},
		{"keep without prefix", `{http: ":80"}`, "redirects: [{from: /a, to: /b/*}]",
			`services.web.redirects[0].to: "/b/*" keeps the rest of the path`},
		{"bad target", `{http: ":80"}`, "redirects: [{from: /a, to: 'ftp://x/'}]",
			`services.web.redirects[0].to: "ftp://x/" is neither`},
		{"bad status", `{http: ":80"}`, "redirects: [{from: /a, to: /b, status: 200}]",
			"services.web.redirects[0].status: 200 is not a redirect status"},
		{"framing header", `{http: ":80"}`, "headers: {response: {set: {Content-Length: \"5\"}}}",
			"services.web.headers.response.set.Content-Length: Content-Length cannot be changed"},
		{"bad header name", `{http: ":80"}`, "headers: {request: {remove: [\"a b\"]}}",
			`services.web.headers.request.remove[0]: "a b" is not a header name`},
		{"canonical host", `{http: ":80"}`, "canonical_host: \"-x\"",
			`services.web.canonical_host: "-x" is not a host name`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := "\nlisten: " + tc.listen + "\nservices:\n  web:\n    process: {command: sh}\n    ports: [1, 2]\n    " + tc.svc + "\n"
			_, err := parse([]byte(y), "c.yaml", userEnv)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("parse:\n%v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}
