package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// hostsSummary is the part of `cutover demo --hosts 3 -o json`'s summary
// the tests check.
type hostsSummary struct {
	Hosts        []string                    `json:"hosts"`
	Coordination string                      `json:"coordination"`
	Requests     int64                       `json:"requests"`
	Failed       int64                       `json:"failed"`
	PerHost      map[string]map[string]int64 `json:"per_host"`
	Flip         struct {
		Version      string            `json:"version"`
		Outcome      string            `json:"outcome"`
		Prepared     []string          `json:"prepared"`
		Commits      int               `json:"commits"`
		Switched     []string          `json:"switched"`
		MixedWindow  time.Duration     `json:"mixed_window_ns"`
		ServingAfter map[string]string `json:"serving_after"`
	} `json:"flip"`
	Abort struct {
		Version      string            `json:"version"`
		Outcome      string            `json:"outcome"`
		UnhealthyOn  string            `json:"unhealthy_on"`
		Error        string            `json:"error"`
		Served       int64             `json:"served"`
		Left         map[string]int    `json:"left"`
		ServingAfter map[string]string `json:"serving_after"`
	} `json:"abort"`
}

// runDemo runs exe demo args with env (nil: this process's) and returns
// its exit code and output.
func runDemo(t *testing.T, exe string, env []string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, append([]string{"demo"}, args...)...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %s demo: %v", exe, err)
	}
	if left := processesOf(exe); len(left) > 0 {
		t.Errorf("the demo left processes behind: %v", left)
	}
	if left := processesOf(bin); exe != bin && len(left) > 0 {
		t.Errorf("the demo left sample apps behind: %v", left)
	}
	return code, out.String(), errb.String()
}

// checkHostsSummary asserts the all-or-none outcome of the many-hosts demo.
func checkHostsSummary(t *testing.T, s hostsSummary) {
	t.Helper()
	if s.Requests == 0 || s.Failed != 0 {
		t.Errorf("%d of %d requests failed, want 0 of many", s.Failed, s.Requests)
	}
	f := s.Flip
	if f.Outcome != "deployed" || len(f.Prepared) != 3 || f.Commits != 1 || len(f.Switched) != 3 {
		t.Errorf("flip to %s: %s, prepared %v, %d commits, switched %v; want deployed, 3 prepared, 1 commit, 3 switched",
			f.Version, f.Outcome, f.Prepared, f.Commits, f.Switched)
	}
	a := s.Abort
	if a.Outcome != "failed" || a.UnhealthyOn != "h3" || !strings.Contains(a.Error, "h3") || a.Served != 0 {
		t.Errorf("abort of %s: outcome %s, unhealthy on %s, %d responses from it, error %q", a.Version, a.Outcome, a.UnhealthyOn, a.Served, a.Error)
	}
	for _, h := range s.Hosts {
		if f.ServingAfter[h] != f.Version || a.ServingAfter[h] != f.Version {
			t.Errorf("%s serves %q after the flip and %q after the abort, want %s", h, f.ServingAfter[h], a.ServingAfter[h], f.Version)
		}
		if n, ok := a.Left[h]; !ok || n != 0 {
			t.Errorf("%s: %d instance(s) of %s left after the abort", h, n, a.Version)
		}
		if s.PerHost[h][f.Version] == 0 || s.PerHost[h][a.Version] != 0 {
			t.Errorf("%s answered %v", h, s.PerHost[h])
		}
	}
	t.Logf("%s: %d requests, 0 failed; flip mixed window %s", s.Coordination, s.Requests, f.MixedWindow)
}

// TestDemoHosts runs `cutover demo --hosts 3 -o json` with the default
// build, which coordinates the three hosts through the etcd binary in
// PATH (Debian's etcd-server).
func TestDemoHosts(t *testing.T) {
	if _, err := exec.LookPath("etcd"); err != nil {
		t.Fatal("etcd is needed (apt-get install etcd-server)")
	}
	code, out, errOut := runDemo(t, bin, nil, "--hosts", "3", "-o", "json")
	if code != 0 {
		t.Fatalf("cutover demo --hosts 3 -o json: exit %d\n%s\n%s", code, errOut, tailText(out, 30))
	}
	var last struct {
		Type    string       `json:"type"`
		Summary hostsSummary `json:"summary"`
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	lines := 0
	for sc.Scan() {
		lines++
		if err := json.Unmarshal(sc.Bytes(), &last); err != nil {
			t.Fatalf("line %d is not JSON: %v\n%s", lines, err, sc.Text())
		}
	}
	if last.Type != "summary" {
		t.Fatalf("the last line is a %q, want the summary", last.Type)
	}
	if !strings.Contains(last.Summary.Coordination, "etcd ") {
		t.Errorf("coordination %q, want the etcd binary", last.Summary.Coordination)
	}
	checkHostsSummary(t, last.Summary)
}

// TestDemoHostsEmbedded runs the embedetcd build's `cutover demo --hosts 3`
// with nothing in PATH: the three cutover serve processes are the etcd
// cluster. The text output shows the flip and the abort.
func TestDemoHostsEmbedded(t *testing.T) {
	exe := embeddedBinary(t)
	empty := t.TempDir()
	code, out, errOut := runDemo(t, exe, []string{"PATH=" + empty, "HOME=" + os.Getenv("HOME"), "TMPDIR=" + os.TempDir()}, "--hosts", "3")
	if code != 0 {
		t.Fatalf("cutover demo --hosts 3: exit %d\n%s\n%s", code, errOut, out)
	}
	for _, want := range []string{
		"coordination: embedded etcd",
		"h3 prepared v2 (", "prepared v2 (3/3)", "switched (3/3)", "load saw the flip",
		"h3 could not prepare v3", "no host switched",
		"after the abort: 0 response(s) came from v3; every host serves v2; v3 instances left running: 0",
		"Zero failed requests; every host switched at one commit, or none did.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	t.Logf("demo output:\n%s", out)
}

// TestDemoHostsWithoutEtcd: with neither the embedded build nor an etcd
// binary, the demo says how to get one and exits with code 2.
func TestDemoHostsWithoutEtcd(t *testing.T) {
	code, out, errOut := runDemo(t, bin, []string{"PATH=" + t.TempDir()}, "--hosts", "3")
	if code != 2 || out != "" {
		t.Fatalf("exit %d, stdout %q; want 2 and nothing", code, out)
	}
	for _, want := range []string{"apt-get install etcd-server", "go run -tags embedetcd ./cmd/cutover demo --hosts 3", "cutover demo"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("the message lacks %q:\n%s", want, errOut)
		}
	}
}

func tailText(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
