package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestAtomicWriteTimes(t *testing.T) {
	dir := t.TempDir()
	ms, err := atomicWriteTimes(dir, 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 3 || ms[0] <= 0 {
		t.Errorf("atomicWriteTimes = %v, want 3 positive durations", ms)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || ents[0].Name() != "probe.json" {
		t.Errorf("dir holds %v, want only probe.json", ents)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "probe.json")); err != nil || len(b) != 1024 {
		t.Errorf("probe.json: %d bytes, %v", len(b), err)
	}
}
