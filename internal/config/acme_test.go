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
