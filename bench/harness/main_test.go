package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSaveThenRerenderGivesTheSameReport(t *testing.T) {
	dir := t.TempDir()
	start := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	res := &results{
		Meta:    meta{Start: start, End: start.Add(time.Minute), Rounds: 1, Conns: []int{64}, Command: "bench/run.sh"},
		Order:   []string{keyNginx},
		Labels:  map[string]string{keyNginx: "nginx 1.22.1"},
		Skipped: map[string]string{},
		Speed:   []speedRun{run(1, keyNginx, 64, 24000, 7000)},
	}
	raw, first, second := filepath.Join(dir, "r.json"), filepath.Join(dir, "a.md"), filepath.Join(dir, "b.md")
	goBench, analysis := filepath.Join(dir, "gobench.txt"), filepath.Join(dir, "PROFILE.md")
	if err := os.WriteFile(goBench, []byte("goos: linux\nBenchmarkProxy/handler-2   \t 20000\t 47145 ns/op\t 2723 B/op\t 29 allocs/op\nPASS\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(analysis, []byte("## What limits it\n\nsyscalls\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := addExtras(res, goBench, analysis); err != nil {
		t.Fatal(err)
	}
	if err := save(raw, first, res); err != nil {
		t.Fatal(err)
	}
	if err := rerender(raw, second, analysis); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(first)
	b, _ := os.ReadFile(second)
	if len(a) == 0 || string(a) != string(b) {
		t.Errorf("re-rendered report differs:\n%s\n---\n%s", a, b)
	}
	for _, want := range []string{"BenchmarkProxy/handler-2 20000 47145 ns/op 2723 B/op 29 allocs/op\n```", "## What limits it\n\nsyscalls\n"} {
		if !strings.Contains(string(a), want) {
			t.Errorf("report lacks %q:\n%s", want, a)
		}
	}
}

func TestConfigureRejectsBadFlags(t *testing.T) {
	for _, tc := range []struct {
		name            string
		h               harness
		conns, subjects string
	}{
		{"no work dir", harness{binDir: "b", rounds: 1, duration: time.Second, switchEvery: time.Second}, "64", "nginx"},
		{"bad conns", harness{workDir: "w", binDir: "b", rounds: 1, duration: time.Second, switchEvery: time.Second}, "64,x", "nginx"},
		{"unknown subject", harness{workDir: "w", binDir: "b", rounds: 1, duration: time.Second, switchEvery: time.Second}, "64", "nginx,traefik"},
		{"zero rounds", harness{workDir: "w", binDir: "b", duration: time.Second, switchEvery: time.Second}, "64", "nginx"},
	} {
		if err := tc.h.configure(tc.conns, tc.subjects); !errors.Is(err, ErrBadFlags) {
			t.Errorf("%s: configure = %v, want ErrBadFlags", tc.name, err)
		}
	}
}
