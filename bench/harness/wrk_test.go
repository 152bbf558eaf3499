package main

import (
	"errors"
	"testing"
)

const wrkSample = `Running 3s test @ http://127.0.0.1:8081/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.61ms  350.00us  10.00ms   90.00%
  Latency Distribution
     50%    2.55ms
     99%    4.00ms
  72000 requests in 3.00s, 16.00MB read
  Socket errors: connect 0, read 12, write 3, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:  24000.00
WRKJSON {"requests":72000,"duration_us":3000000,"bytes":16000000,"connect":0,"read":12,"write":3,"status":7,"timeout":1,"p50_us":2550,"p90_us":3000,"p99_us":4000,"max_us":10000}
`

func TestParseWrk(t *testing.T) {
	r, err := parseWrk(wrkSample)
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests != 72000 || r.P50US != 2550 || r.P99US != 4000 {
		t.Errorf("got %+v", r)
	}
	if got := r.RPS(); got != 24000 {
		t.Errorf("RPS = %v, want 24000", got)
	}
	if r.Non2xx != 7 || r.SocketErrors != 16 || r.Failed() != 23 {
		t.Errorf("non2xx=%d socket=%d failed=%d, want 7, 16, 23", r.Non2xx, r.SocketErrors, r.Failed())
	}
}

func TestParseWrkWithoutSummary(t *testing.T) {
	if _, err := parseWrk("Running 3s test\n"); !errors.Is(err, ErrNoSummary) {
		t.Errorf("err = %v, want ErrNoSummary", err)
	}
}
