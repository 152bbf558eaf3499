package main

import (
	"os"
	"testing"
)

func TestReadMemSelf(t *testing.T) {
	m, err := readMem(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS <= 0 || m.HWM < m.RSS {
		t.Errorf("readMem(self) = %+v, want 0 < RSS <= HWM", m)
	}
}

func TestParseWrk(t *testing.T) {
	out := `Running 2s test @ http://127.0.0.1:1/
  2 threads and 64 connections
  Latency Distribution
     50%    2.10ms
     99%   11.52ms
  12000 requests in 2.00s, 1.2MB read
  Socket errors: connect 0, read 3, write 0, timeout 0
Requests/sec:   6000.12
Transfer/sec:    600.00KB
`
	var r loadResult
	parseWrk(&r, out)
	if r.ReqPerSec != 6000.12 || r.Latency99 != "11.52ms" || r.Errors != "Socket errors: connect 0, read 3, write 0, timeout 0" {
		t.Errorf("parseWrk = %+v", r)
	}
	var clean loadResult
	parseWrk(&clean, "Requests/sec: 10\n")
	if clean.Errors != "none" {
		t.Errorf("errors = %q, want none", clean.Errors)
	}
}
