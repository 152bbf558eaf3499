package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSummarise(t *testing.T) {
	xs := make([]float64, 100)
	for i := range xs {
		xs[i] = float64(100 - i)
	}
	if d := summarise(xs); d != (dist{N: 100, Min: 1, P50: 50, P90: 90, P99: 99, Max: 100}) {
		t.Errorf("summarise = %+v", d)
	}
	if xs[0] != 100 {
		t.Error("summarise sorted its input")
	}
	if (summarise(nil) != dist{}) {
		t.Error("summarise(nil) is not zero")
	}
}

func TestFindCrossing(t *testing.T) {
	ms := func(x int64) int64 { return x * 1e6 }
	recs := []record{
		{send: ms(1), recv: ms(2), version: "v1", ok: true},
		{send: ms(3), recv: ms(4), version: "v2", ok: true},   // first new answer at 4
		{send: ms(5), recv: ms(6), version: "v1", ok: true},   // last old sent at 5
		{send: ms(6), recv: ms(7), version: "", ok: false},    // a failure
		{send: ms(8), recv: ms(9), version: "v2", ok: true},   //
		{send: ms(20), recv: ms(21), version: "v1", ok: true}, // outside the window
	}
	c := findCrossing(recs, 0, ms(10), "v1", "v2")
	if c != (crossing{MixedNS: ms(1), Requests: 5, Failures: 1, Seen: true}) {
		t.Errorf("crossing = %+v", c)
	}
	// Old answers all sent before the first new answer: no overlap.
	c = findCrossing(recs[:2], 0, ms(10), "v1", "v2")
	if c.MixedNS != 0 || !c.Seen {
		t.Errorf("crossing without overlap = %+v", c)
	}
	if c := findCrossing(recs[:1], 0, ms(10), "v1", "v2"); c.Seen {
		t.Errorf("only the old version answered, but Seen: %+v", c)
	}
}

func TestHostGaps(t *testing.T) {
	recs := []record{{send: 1000, host: 0}, {send: 2000, host: 1}, {send: 4000, host: 0}, {send: 7000, host: 1}}
	got := hostGaps(recs, 2)
	if len(got) != 2 || got[0] != 3 || got[1] != 5 {
		t.Errorf("hostGaps = %v, want [3 5] µs", got)
	}
}

func TestLongestPause(t *testing.T) {
	recs := []record{{send: 10}, {send: 20}, {send: 50}, {send: 55}, {send: 100}}
	for _, tc := range []struct{ from, to, want int64 }{
		{20, 50, 30},  // the gap 20 → 50 lies in the window
		{52, 53, 5},   // the window lies inside the gap 50 → 55
		{56, 60, 45},  // inside the gap 55 → 100
		{0, 100, 45},  // every gap
		{101, 200, 0}, // after the last send
	} {
		if got := longestPause(recs, tc.from, tc.to); got != tc.want {
			t.Errorf("longestPause(%d, %d) = %d, want %d", tc.from, tc.to, got, tc.want)
		}
	}
}

func TestCommitPath(t *testing.T) {
	for _, tc := range []struct {
		checks []int
		want   string
	}{
		{nil, "one transaction"},
		{[]int{0, 0}, "one transaction"},
		{[]int{2, 2}, "2 batch checks + one transaction"},
		{[]int{1, 2}, "1–2 batch checks + one transaction"},
	} {
		if got := commitPath(tc.checks); got != tc.want {
			t.Errorf("commitPath(%v) = %q, want %q", tc.checks, got, tc.want)
		}
	}
}

// TestReport renders a report from the kind of results a run produces,
// with the simulated results read as BenchmarkFleetCommit writes them.
func TestReport(t *testing.T) {
	dir := t.TempDir()
	sim := `{"agents":150,"deploys":[{"id":"d-1","hosts":150,"switch_us":900,"txn_to_last_us":1500,"prepare_us":20000,"total_us":40000,"checks":2}],` +
		`"single_txn_refused":"too many operations in one transaction","cpu_ms_per_host_deploy":12.5,"lease_ttl_ns":30000000000}`
	if err := os.WriteFile(filepath.Join(dir, "sim-150.json"), []byte(sim), 0o644); err != nil {
		t.Fatal(err)
	}
	sims, err := readSims(dir)
	if err != nil || len(sims) != 1 || sims[0].Deploys[0].Checks != 2 {
		t.Fatalf("readSims = %+v, %v", sims, err)
	}
	r := newResults(options{deploys: 1, probes: 2, settle: time.Millisecond, leaseTTL: 5 * time.Second, commit: "abc"})
	r.Simulated = sims
	now := time.Now().UnixNano()
	fr := &fleetRun{Hosts: 5, Storage: storageDisk, Deploys: []*deployRun{{
		Version: "v1", From: "v0", Call: now, Commit: now + 3e8, Done: now + 5e8, SwitchUS: 2500,
		CommitAt: now + 2e8, LastAck: now + 2e8 + 4e6, FirstPublish: now + 2e8 + 1e6, LastPublish: now + 2e8 + 3e6,
		Crossing: crossing{MixedNS: 1e6, Seen: true},
	}}}
	r.Fleets = []*fleetRun{fr}
	out := report(r)
	for _, want := range []string{"| 5 `cutover serve` processes, state on disk | 1 of 1 | **2.50**", "150 simulated hosts", "2 batch checks + one transaction",
		"too many operations", "p99 < 50 ms (aim < 10 ms)", "| 150 simulated hosts | 12.5 |", "lease TTL is 30s instead of 5 s",
		"| 5 | disk | **2.00** / **2.00** / 2.00 |", "first → last published p99 2.00 ms: bound **met**, aim **met**"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if _, err := json.Marshal(r); err != nil {
		t.Fatal(err)
	}
}
