package main

import (
	"strings"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
		ok   bool
	}{
		{nil, 0, false},
		{[]float64{3}, 3, true},
		{[]float64{5, 1, 3}, 3, true},
		{[]float64{4, 1, 3, 2}, 2.5, true},
	} {
		got, ok := median(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("median(%v) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func run(round int, subject string, conns int, rps int64, p99us int64) speedRun {
	return speedRun{Round: round, Subject: subject, Conns: conns,
		Wrk: wrkResult{Requests: rps, DurationUS: 1e6, P50US: 1000, P99US: p99us}, RSSKB: 10240}
}

func TestSummarizeRatiosAreMediansOfSameRoundRatios(t *testing.T) {
	runs := []speedRun{
		// nginx drifts between rounds; the ratio is computed per round.
		run(1, keyNginx, 64, 100, 1000), run(1, keyCaddy, 64, 50, 3000),
		run(2, keyNginx, 64, 200, 1000), run(2, keyCaddy, 64, 120, 2000),
		run(3, keyNginx, 64, 300, 1000), run(3, keyCaddy, 64, 90, 4000),
		run(1, keyCaddy, 256, 7, 1000), // other connection count: ignored
	}
	failedRun := run(4, keyCaddy, 64, 1e6, 1)
	failedRun.Err = "wrk: boom"
	runs = append(runs, failedRun)

	s := summarize(runs, keyCaddy, "c64", metricRPS)
	if !s.HasValue || s.Value != 90 {
		t.Errorf("median rps = %v, want 90", s.Value)
	}
	if !s.HasRatio || s.Ratio != 0.5 { // ratios 0.5, 0.6, 0.3
		t.Errorf("median ratio = %v, want 0.5", s.Ratio)
	}
	if p := summarize(runs, keyCaddy, "c64", metricP99); p.Value != 3 || p.Ratio != 3 {
		t.Errorf("p99 = %v ms ratio %v, want 3 ms ratio 3", p.Value, p.Ratio)
	}
	if none := summarize(runs, keyHAProxy, "c64", metricRPS); none.HasValue || none.HasRatio {
		t.Errorf("summary of an absent subject = %+v, want empty", none)
	}
}

func TestWriteReport(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	res := &results{
		Meta: meta{Start: start, End: start.Add(90 * time.Second), Machine: machine{NProc: 2, CPU: "Test CPU"},
			Commit: "abc1234", LoadStart: "1.50 0.2 0.1", LoadEnd: "0.1 0.1 0.1", Rounds: 1, Conns: []int{64},
			Duration: "10s", SwitchEvery: "100ms", SwitchDuration: "10s", Command: "ROUNDS=1 bench/run.sh"},
		Order:   []string{keyNginx, keyCaddy, keyCutover},
		Labels:  map[string]string{keyNginx: "nginx 1.22.1", keyCaddy: "Caddy 2.6.2", keyCutover: "cutover (product binary)"},
		Skipped: map[string]string{keyCutover: "`cutover serve` does not work yet"},
		Speed:   []speedRun{run(1, keyNginx, 64, 24000, 7000), run(1, keyCaddy, 64, 8000, 21000)},
		Switch: []switchRun{{Subject: keyNginx, Tool: "loadcheck", Conns: 64, Requests: 1000, Failed: 5,
			Switches: 99, Backends: map[string]int64{"v2": 500, "v1": 495}, Detail: "transport errors 5"}},
	}
	var b strings.Builder
	if err := writeReport(&b, res); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"ROUNDS=1 bench/run.sh",
		"**The machine was busy**",
		"2 × Test CPU",
		"| Caddy 2.6.2 | 8000 | 0.33 | 1.00 | 1.00 | 21.00 | 3.00 | 10.0 | 1.00 |",
		"| nginx 1.22.1 | loadcheck | 64 | 1000 | 5 | 0.500 | 99 (0) | 0.1 |",
		"v1 495, v2 500",
		"- **cutover (product binary)**: `cutover serve` does not work yet",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q\n%s", want, out)
		}
	}
	if strings.Contains(out, "| cutover (product binary) | —") {
		t.Error("skipped subject has a row in the speed table")
	}
}

func TestBusy(t *testing.T) {
	if busy("0.30 0.1 0.1", 2) {
		t.Error("0.30 on 2 cores reported busy")
	}
	if !busy("0.80 0.1 0.1", 2) {
		t.Error("0.80 on 2 cores not reported busy")
	}
}
