package proxy

import (
	"errors"
	"io"
	"net/http"
	"testing"
)

func svcNames(t *testing.T, p *Proxy, host, path string) string {
	t.Helper()
	s := p.table.Load().lookup(host, path)
	if s == nil {
		return ""
	}
	return s.name
}

func TestRoutingTable(t *testing.T) {
	p := newTestProxy(t, Options{})
	tg := TargetSpec{ID: "t", Addr: "127.0.0.1:1"}
	specs := []ServiceSpec{
		{Name: "default", Active: Set{Version: "v1", Targets: []TargetSpec{tg}}},
		{Name: "default-api", PathPrefix: "/api/", Active: Set{Version: "v1", Targets: []TargetSpec{tg}}},
		{Name: "exact", Hosts: []string{"Example.com:8080"}, Active: Set{Version: "v1", Targets: []TargetSpec{tg}}},
		{Name: "exact-admin", Hosts: []string{"example.com"}, PathPrefix: "/admin", Active: Set{Version: "v1", Targets: []TargetSpec{tg}}},
		{Name: "wild", Hosts: []string{"*.example.com"}, Active: Set{Version: "v1", Targets: []TargetSpec{tg}}},
		{Name: "wild-deep", Hosts: []string{"*.eu.example.com"}, PathPrefix: "/shop", Active: Set{Version: "v1", Targets: []TargetSpec{tg}}},
	}
	if err := p.Apply(specs); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		host, path, want string
	}{
		{"example.com", "/", "exact"},
		{"EXAMPLE.COM:443", "/x", "exact"},
		{"example.com.", "/", "exact"},
		{"example.com", "/admin", "exact-admin"},
		{"example.com", "/admin/users", "exact-admin"},
		{"example.com", "/administrator", "exact"},
		{"a.example.com", "/", "wild"},
		{"a.b.example.com", "/", "wild"},
		{"x.eu.example.com", "/shop/cart", "wild-deep"},
		{"x.eu.example.com", "/other", "wild"},
		{"other.org", "/", "default"},
		{"other.org", "/api", "default-api"},
		{"other.org", "/api/v1", "default-api"},
		{"other.org", "/apiary", "default"},
		{"[::1]:8080", "/", "default"},
		{"", "/", "default"},
	}
	for _, tc := range tests {
		if got := svcNames(t, p, tc.host, tc.path); got != tc.want {
			t.Errorf("lookup(%q, %q) = %q, want %q", tc.host, tc.path, got, tc.want)
		}
	}
}

func TestUnknownHostGets404(t *testing.T) {
	p := newTestProxy(t, Options{})
	err := p.Apply([]ServiceSpec{{Name: "a", Hosts: []string{"a.test"}, Active: Set{Version: "v1"}}})
	if err != nil {
		t.Fatal(err)
	}
	w := serve(p, "GET", "http://b.test/", nil)
	if w.Code != http.StatusNotFound {
		t.Fatalf("status %d, want 404", w.Code)
	}
	if body := w.Body.String(); body != "404 Not Found: no service for this host and path\n" {
		t.Fatalf("body %q", body)
	}
}

func TestApplyValidation(t *testing.T) {
	tg := TargetSpec{ID: "t1", Addr: "127.0.0.1:9"}
	good := oneSet("web", "v1", tg)
	tests := []struct {
		name  string
		specs []ServiceSpec
		want  error
	}{
		{"duplicate name", []ServiceSpec{good, good}, ErrDuplicateService},
		{"route conflict", []ServiceSpec{good, oneSet("web2", "v1", TargetSpec{ID: "t2", Addr: "127.0.0.1:10"})}, ErrRouteConflict},
		{"target conflict", []ServiceSpec{good, {Name: "b", Hosts: []string{"b"}, Active: Set{Version: "v1", Targets: []TargetSpec{{ID: "t1", Addr: "127.0.0.1:11"}}}}}, ErrTargetConflict},
		{"weight", []ServiceSpec{{Name: "w", Weight: 101, Active: Set{Version: "v1"}}}, ErrInvalidSpec},
		{"no version", []ServiceSpec{{Name: "w"}}, ErrInvalidSpec},
		{"bad addr", []ServiceSpec{oneSet("w", "v1", TargetSpec{ID: "x", Addr: "nohost"})}, ErrInvalidSpec},
		{"same candidate version", []ServiceSpec{{Name: "w", Active: Set{Version: "v1"}, Candidate: &Set{Version: "v1"}}}, ErrInvalidSpec},
		{"bad host", []ServiceSpec{{Name: "w", Hosts: []string{"a.*.com"}, Active: Set{Version: "v1"}}}, ErrInvalidSpec},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newTestProxy(t, Options{})
			if err := p.Apply([]ServiceSpec{oneSet("keep", "v0")}); err != nil {
				t.Fatal(err)
			}
			err := p.Apply(tc.specs)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Apply error %v, want %v", err, tc.want)
			}
			if s := p.Services(); len(s) != 1 || s[0].Name != "keep" {
				t.Fatalf("failed Apply changed the table: %+v", s)
			}
		})
	}
}

func TestTargetAddrConflictWithLiveTable(t *testing.T) {
	p := newTestProxy(t, Options{})
	if err := p.Apply([]ServiceSpec{oneSet("a", "v1", TargetSpec{ID: "t1", Addr: "127.0.0.1:9"})}); err != nil {
		t.Fatal(err)
	}
	err := p.UpdateService(ServiceSpec{Name: "b", Hosts: []string{"b"}, Active: Set{Version: "v1", Targets: []TargetSpec{{ID: "t1", Addr: "127.0.0.1:10"}}}})
	if !errors.Is(err, ErrTargetConflict) {
		t.Fatalf("err %v, want ErrTargetConflict", err)
	}
}

func TestUpdateRemoveSetWeight(t *testing.T) {
	p := newTestProxy(t, Options{})
	if err := p.UpdateService(oneSet("a", "v1")); err != nil {
		t.Fatal(err)
	}
	b := oneSet("b", "v1")
	b.Hosts = []string{"b.test"}
	if err := p.UpdateService(b); err != nil {
		t.Fatal(err)
	}
	b.Candidate = &Set{Version: "v2"}
	if err := p.UpdateService(b); err != nil {
		t.Fatal(err)
	}
	if err := p.SetWeight("b", 12.5); err != nil {
		t.Fatal(err)
	}
	if err := p.SetWeight("nope", 1); !errors.Is(err, ErrUnknownService) {
		t.Fatalf("SetWeight unknown: %v", err)
	}
	if err := p.SetWeight("b", -1); !errors.Is(err, ErrInvalidSpec) {
		t.Fatalf("SetWeight -1: %v", err)
	}
	s := p.Services()
	if len(s) != 2 || s[1].Name != "b" || s[1].Weight != 12.5 || s[1].Candidate == nil || s[1].Candidate.Version != "v2" {
		t.Fatalf("services %+v", s)
	}
	p.RemoveService("a")
	p.RemoveService("unknown")
	if s := p.Services(); len(s) != 1 || s[0].Name != "b" {
		t.Fatalf("after remove: %+v", s)
	}
	if svcNames(t, p, "a.test", "/") != "" {
		t.Fatal("removed service still routed")
	}
}

func TestStripPrefix(t *testing.T) {
	be := httptestEcho(t)
	p := newTestProxy(t, Options{})
	spec := oneSet("api", "v1", TargetSpec{ID: "e", Addr: addrOf(be)})
	spec.PathPrefix = "/api/"
	spec.StripPrefix = true
	keep := oneSet("keep", "v1", TargetSpec{ID: "e", Addr: addrOf(be)})
	keep.PathPrefix = "/keep"
	if err := p.Apply([]ServiceSpec{spec, keep}); err != nil {
		t.Fatal(err)
	}
	_, base := startServer(t, p, ServerOptions{})
	for path, want := range map[string]string{
		"/api/users?x=1": "/users?x=1",
		"/api":           "/",
		"/api/":          "/",
		"/api/a%2Fb":     "/a%2Fb",
		"/keep/x":        "/keep/x",
	} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != want {
			t.Errorf("GET %s forwarded as %q, want %q", path, body, want)
		}
	}
}
