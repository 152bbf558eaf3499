package proxy

import "testing"

func TestHostOnly(t *testing.T) {
	for in, want := range map[string]string{
		"example.com":      "example.com",
		"example.com:8080": "example.com",
		"[::1]:443":        "::1",
		"[::1]":            "::1",
		"::1":              "::1",
		"10.0.0.1:80":      "10.0.0.1",
		"":                 "",
	} {
		if got := hostOnly(in); got != want {
			t.Errorf("hostOnly(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPathPrefix(t *testing.T) {
	tests := []struct {
		path, prefix string
		match        bool
		stripped     string
	}{
		{"/api", "/api", true, "/"},
		{"/api/", "/api", true, "/"},
		{"/api/users", "/api", true, "/users"},
		{"/apiary", "/api", false, "/apiary"},
		{"/anything", "/", true, "/anything"},
	}
	for _, tc := range tests {
		if got := hasPathPrefix(tc.path, tc.prefix); got != tc.match {
			t.Errorf("hasPathPrefix(%q, %q) = %v", tc.path, tc.prefix, got)
		}
		if tc.match {
			if got := stripPathPrefix(tc.path, tc.prefix); got != tc.stripped {
				t.Errorf("stripPathPrefix(%q, %q) = %q, want %q", tc.path, tc.prefix, got, tc.stripped)
			}
		}
	}
	for in, want := range map[string]string{"": "/", "/": "/", "api": "/api", "/api/": "/api", "/a/b//": "/a/b"} {
		if got := normalizePrefix(in); got != want {
			t.Errorf("normalizePrefix(%q) = %q, want %q", in, got, want)
		}
	}
}
