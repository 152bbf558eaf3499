package main

import (
	"os"
	"path/filepath"
	"time"
)

// atomicWriteTimes times n atomic replacements of a 1 KiB file in dir, done
// the way the local store persists state (write a temporary file, fsync
// it, rename it over the target, fsync the directory), every gap. It shows
// what one persisted decision costs on this disk at the time of the run.
func atomicWriteTimes(dir string, n int, gap time.Duration) ([]float64, error) {
	data := make([]byte, 1024)
	out := make([]float64, 0, n)
	for range n {
		start := time.Now()
		if err := atomicWrite(dir, "probe.json", data); err != nil {
			return nil, err
		}
		out = append(out, float64(time.Since(start))/1e6)
		time.Sleep(gap)
	}
	return out, nil
}

func atomicWrite(dir, name string, data []byte) error {
	f, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, name)); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
