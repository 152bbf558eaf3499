package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// memSample is one reading of a process's memory in kB.
type memSample struct {
	RSS, HWM int64
}

// readMem reads VmRSS and VmHWM from /proc/pid/status.
func readMem(pid int) (memSample, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memSample{}, err
	}
	var m memSample
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmRSS":
			m.RSS = n
		case "VmHWM":
			m.HWM = n
		}
	}
	if m.RSS == 0 {
		return m, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
	}
	return m, nil
}

// sampleMem reads pid's memory every interval until ctx is done and
// returns the largest VmRSS seen and the last VmHWM.
func sampleMem(ctx context.Context, pid int, interval time.Duration) (maxRSS, hwm int64, samples int) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if m, err := readMem(pid); err == nil {
			maxRSS, hwm = max(maxRSS, m.RSS), m.HWM
			samples++
		}
		select {
		case <-ctx.Done():
			return maxRSS, hwm, samples
		case <-t.C:
		}
	}
}

// loadResult is what the load generator reported.
type loadResult struct {
	Conns     int     `json:"conns"`
	Seconds   float64 `json:"seconds"`
	ReqPerSec float64 `json:"req_per_sec"`
	Latency99 string  `json:"latency_p99"`
	Errors    string  `json:"errors"`
	MaxRSS    int64   `json:"max_rss_kb"`
	HWM       int64   `json:"hwm_kb"`
	Samples   int     `json:"samples"`
	Output    string  `json:"-"`
}

// loadUnderWrk runs wrk with conns keep-alive connections against url for
// d while sampling pid's memory every 100 ms.
func loadUnderWrk(wrk, url string, conns int, d time.Duration, pid int) (loadResult, error) {
	res := loadResult{Conns: conns, Seconds: d.Seconds()}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { res.MaxRSS, res.HWM, res.Samples = sampleMem(ctx, pid, 100*time.Millisecond) })
	out, err := exec.Command(wrk, "-t2", fmt.Sprintf("-c%d", conns), fmt.Sprintf("-d%ds", int(d.Seconds())),
		"--latency", "--timeout", "5s", url).CombinedOutput()
	cancel()
	wg.Wait()
	res.Output = string(out)
	if err != nil {
		return res, fmt.Errorf("wrk: %w\n%s", err, out)
	}
	parseWrk(&res, string(out))
	return res, nil
}

// parseWrk fills the throughput, p99 latency and error lines of wrk's output.
func parseWrk(res *loadResult, out string) {
	var errs []string
	for line := range strings.SplitSeq(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[0] == "Requests/sec:":
			res.ReqPerSec, _ = strconv.ParseFloat(f[1], 64)
		case len(f) == 2 && f[0] == "99%":
			res.Latency99 = f[1]
		case strings.Contains(line, "Socket errors") || strings.Contains(line, "Non-2xx"):
			errs = append(errs, strings.TrimSpace(line))
		}
	}
	res.Errors = "none"
	if len(errs) > 0 {
		res.Errors = strings.Join(errs, "; ")
	}
}

// loadavg returns the three load averages from /proc/loadavg.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
