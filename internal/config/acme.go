package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
)

// ACME obtains and renews the public listener's certificates from an ACME
// CA (Let's Encrypt by default).
type ACME struct {
	// Email is the ACME account's contact address (optional).
	Email string `yaml:"email"`
	// Domains are the names to obtain certificates for (default: every
	// host name the services route that is a DNS name of two labels or
	// more: "*", wildcards, addresses and "localhost" are left out).
	Domains []string `yaml:"domains"`
	// CA is the ACME directory URL (default Let's Encrypt production).
	CA string `yaml:"ca"`
	// CARoot is a PEM file of roots to trust for the CA's HTTPS (a
	// private CA); default the system roots.
	CARoot string `yaml:"ca_root"`
	// Challenges are the challenge types to use: http-01 (answered on
	// listen.http, which the CA reaches on port 80) and tls-alpn-01
	// (answered on listen.https, reached on port 443). Default both.
	Challenges []string `yaml:"challenges"`
	// Profile asks the CA for a certificate profile, e.g. Let's Encrypt's
	// "shortlived" ("": the CA's default).
	Profile string `yaml:"profile"`
	// RenewCheck is how often certificates are checked for renewal
	// (default 10m); one is renewed when a third of its lifetime is left.
	RenewCheck Duration `yaml:"renew_check"`
}

// DefaultACMERenewCheck is how often ACME certificates are checked for renewal.
const DefaultACMERenewCheck = Duration(10 * time.Minute)

// ACME challenge types.
const (
	ChallengeHTTP01    = "http-01"
	ChallengeTLSALPN01 = "tls-alpn-01"
)

// ACMEDomains returns the names listen.acme obtains certificates for.
func (c *Config) ACMEDomains() []string {
	a := c.Listen.ACME
	if a == nil {
		return nil
	}
	if len(a.Domains) > 0 {
		return a.Domains
	}
	var out []string
	for _, name := range c.serviceNames() {
		for _, h := range c.Services[name].Hosts {
			if validHostName(h) && !slices.Contains(out, h) {
				out = append(out, h)
			}
		}
	}
	return out
}

func (v *validator) acme() {
	l := &v.c.Listen
	a := l.ACME
	if l.HTTPS == "" {
		v.add("listen.acme", `set listen.https (e.g. ":443"): certificates are for the HTTPS listener`, "acme is set but listen.https is not")
	}
	if l.TLS != (TLS{}) {
		v.add("listen.tls", "remove listen.tls (certificates come from ACME) or remove listen.acme", "listen.tls and listen.acme are both set")
	}
	for i, ch := range a.Challenges {
		if !v.oneOf(fmt.Sprintf("listen.acme.challenges[%d]", i), ch, ChallengeHTTP01, ChallengeTLSALPN01) {
			continue
		}
		if ch == ChallengeHTTP01 && l.HTTP == "" {
			v.add(fmt.Sprintf("listen.acme.challenges[%d]", i), "set listen.http (the CA connects to port 80), or use tls-alpn-01 only", "http-01 needs listen.http")
		}
	}
	if a.CA != "" {
		if u, err := url.Parse(a.CA); err != nil || u.Scheme != "https" || u.Host == "" {
			v.add("listen.acme.ca", "write the CA's ACME directory URL, e.g. https://acme-staging-v02.api.letsencrypt.org/directory", "%q is not an https URL", a.CA)
		}
	}
	v.file("listen.acme.ca_root", a.CARoot)
	v.positive("listen.acme.renew_check", a.RenewCheck)
	for i, d := range a.Domains {
		path := fmt.Sprintf("listen.acme.domains[%d]", i)
		switch {
		case strings.Contains(d, "*"):
			v.add(path, "name each host: a wildcard certificate needs the DNS-01 challenge, which cutover does not do", "wildcard %q", d)
		case !validHostName(d):
			v.add(path, "write a DNS name such as shop.example.com", "%q is not a host name", d)
		}
	}
	if len(v.c.ACMEDomains()) == 0 && len(a.Domains) == 0 {
		v.add("listen.acme.domains", "list the names to obtain certificates for, or give the services exact hosts", "no domain: the services route only \"*\" or wildcards")
	}
}

// validHostName reports whether s is a DNS name of at least two labels.
func validHostName(s string) bool {
	if len(s) > 253 || !strings.Contains(s, ".") {
		return false
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
