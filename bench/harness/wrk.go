package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ErrNoSummary reports wrk output without the report script's JSON line.
var ErrNoSummary = errors.New("wrk output has no WRKJSON line")

// wrkResult is one wrk run as printed by wrk-report.lua, plus the counters
// from wrk's own human-readable output.
type wrkResult struct {
	Requests   int64 `json:"requests"`
	DurationUS int64 `json:"duration_us"`
	Bytes      int64 `json:"bytes"`
	Connect    int64 `json:"connect"`
	Read       int64 `json:"read"`
	Write      int64 `json:"write"`
	Status     int64 `json:"status"`
	Timeout    int64 `json:"timeout"`
	P50US      int64 `json:"p50_us"`
	P90US      int64 `json:"p90_us"`
	P99US      int64 `json:"p99_us"`
	MaxUS      int64 `json:"max_us"`

	// Non2xx is wrk's "Non-2xx or 3xx responses" line (0 when absent).
	Non2xx int64 `json:"non_2xx"`
	// SocketErrors is the sum of wrk's "Socket errors" line (0 when absent).
	SocketErrors int64 `json:"socket_errors"`
}

// RPS is requests per second over the run.
func (w wrkResult) RPS() float64 {
	if w.DurationUS <= 0 {
		return 0
	}
	return float64(w.Requests) / (float64(w.DurationUS) / 1e6)
}

// Failed is every request wrk saw fail: status > 399 plus socket errors.
func (w wrkResult) Failed() int64 {
	return w.Status + w.Connect + w.Read + w.Write + w.Timeout
}

var (
	non2xxRe = regexp.MustCompile(`Non-2xx or 3xx responses:\s*(\d+)`)
	socketRe = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

// parseWrk reads the report script's JSON line and wrk's own failure lines.
func parseWrk(out string) (wrkResult, error) {
	var r wrkResult
	i := strings.Index(out, "WRKJSON ")
	if i < 0 {
		return r, ErrNoSummary
	}
	line, _, _ := strings.Cut(out[i+len("WRKJSON "):], "\n")
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		return r, fmt.Errorf("parse wrk summary: %w", err)
	}
	if m := non2xxRe.FindStringSubmatch(out); m != nil {
		r.Non2xx, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := socketRe.FindStringSubmatch(out); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.ParseInt(s, 10, 64)
			r.SocketErrors += n
		}
	}
	return r, nil
}

// wrkRun describes one wrk invocation.
type wrkRun struct {
	URL      string
	Conns    int
	Duration time.Duration
	Script   string // path of wrk-report.lua
	CPU      int
	Log      string // where wrk's full output is appended ("" for none)
}

// runWrk runs wrk -t1 pinned to r.CPU and returns its parsed summary.
func runWrk(ctx context.Context, r wrkRun) (wrkResult, error) {
	secs := max(1, int(r.Duration.Round(time.Second)/time.Second))
	args := []string{"-c", strconv.Itoa(r.CPU), "wrk", "-t1",
		"-c" + strconv.Itoa(r.Conns), "-d" + strconv.Itoa(secs) + "s",
		"--timeout", "5s", "--latency", "-s", r.Script, r.URL}
	cmd := exec.CommandContext(ctx, "taskset", args...)
	out, err := cmd.CombinedOutput()
	if r.Log != "" {
		if f, ferr := os.OpenFile(r.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); ferr == nil {
			fmt.Fprintf(f, "### wrk -c%d %s\n%s\n", r.Conns, r.URL, out)
			f.Close()
		}
	}
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return parseWrk(string(out))
}
