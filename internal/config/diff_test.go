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

func TestEffectiveKeepsRestartKeys(t *testing.T) {
	old := mustParse(t, "listen: {http: \":8000\", idle_timeout: 60s}\nstate_dir: /a\nservices:\n  web: {process: {command: ./w}, ports: [1, 2]}\n")
	next := mustParse(t, "listen: {http: \":8001\", idle_timeout: 30s}\nstate_dir: /b\nservices:\n  api: {process: {command: ./a}, ports: [3, 4]}\n")
	eff := Effective(old, next)
	if eff.Listen.HTTP != ":8001" || eff.Listen.IdleTimeout != old.Listen.IdleTimeout || eff.StateDir != "/a" {
		t.Errorf("effective listen %+v state_dir %s", eff.Listen, eff.StateDir)
	}
	if _, ok := eff.Services["api"]; !ok || len(eff.Services) != 1 {
		t.Errorf("effective services = %v", eff.ServiceOrder)
	}
	ch := Diff(eff, next)
	if !slices.Equal(ch.Restart, []string{"listen.idle_timeout", "admin.socket", "state_dir"}) || len(ch.Applied) != 0 {
		t.Errorf("after a reload, Diff = %+v; want the restart keys still pending", ch)
	}
	if old.Listen.HTTP != ":8000" || next.StateDir != "/b" {
		t.Error("Effective modified its arguments")
	}
}
