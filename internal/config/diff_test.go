package config

import (
	"slices"
	"testing"
)

func TestDiff(t *testing.T) {
	old := mustParse(t, `
listen: {http: ":8000", idle_timeout: 60s}
admin: {socket: /run/a.sock}
services:
  shop: {process: {command: ./shop}, ports: [1, 2]}
  api: {process: {command: ./api}, ports: [3, 4], path_prefix: /api}
  blog: {process: {command: ./blog}, ports: [5, 6], path_prefix: /blog}
`)
	next := mustParse(t, `
listen: {http: ":8001", idle_timeout: 30s}
admin: {socket: /run/b.sock}
services:
  store: {process: {command: ./shop}, ports: [1, 2]}
  api: {process: {command: ./api}, ports: [3, 4], path_prefix: /v2}
  # blog moved down a line: not a change
  blog: {process: {command: ./blog}, ports: [5, 6], path_prefix: /blog}
`)
	ch := Diff(old, next)
	check := func(what string, got, want []string) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	check("added", ch.Added, []string{"store"})
	check("removed", ch.Removed, []string{"shop"})
	check("changed", ch.Changed, []string{"api"})
	check("applied", ch.Applied, []string{"listen.http"})
	check("restart", ch.Restart, []string{"listen.idle_timeout", "admin.socket"})
	if ch.Empty() || !Diff(old, old).Empty() {
		t.Errorf("Empty: %v for a change, %v for none", ch.Empty(), Diff(old, old).Empty())
	}
}

func mustParse(t *testing.T, y string) *Config {
	t.Helper()
	c, err := parse([]byte(y), "c.yaml", userEnv)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
