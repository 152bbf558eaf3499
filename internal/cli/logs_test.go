package cli

import (
	"context"
	"github.com/cutover-dev/cutover/internal/testutil"
	"strings"
	"testing"

	"github.com/cutover-dev/cutover/internal/api"
)

const fixtureLog = "listening on :8081\nGET / 200\nGET /health 200\nshutting down"

func TestLogs(t *testing.T) {
	h := newHarness(t, fixtureServices()...)
	h.fake.SetLog("web", "", fixtureLog)
	h.fake.SetLog("web", "v1", "old version\n")

	r := h.run(t, "logs", "web", "-n", "2")
	if r.code != ExitOK {
		t.Fatalf("%+v", r)
	}
	golden(t, "logs_text", r.stdout)

	r = h.run(t, "logs", "web", "-n", "-1", "-o", "json")
	if r.code != ExitOK {
		t.Fatalf("%+v", r)
	}
	golden(t, "logs_json", r.stdout)

	if r := h.run(t, "logs", "web", "--version", "v1"); r.code != ExitOK || r.stdout != "old version\n" {
		t.Fatalf("--version v1: %+v", r)
	}
	r = h.run(t, "logs", "web", "--version", "v9")
	if r.code == ExitOK || !strings.Contains(r.stderr, "error: no such instance: service web has no release v9") {
		t.Fatalf("unknown version: %+v", r)
	}
	golden(t, "logs_no_instance", r.stderr)
	if r := h.run(t, "logs", "nope"); r.code == ExitOK || !strings.Contains(r.stderr, "unknown service") {
		t.Fatalf("unknown service: %+v", r)
	}
	if r := h.run(t, "logs", "web", "-n", "-2"); r.code != ExitUsage {
		t.Fatalf("-n -2: %+v", r)
	}
	calls := h.fake.Calls()
	last := calls[len(calls)-1].Arg.(api.LogsRequest)
	if last.Service != "nope" || last.Lines != api.DefaultLogLines || last.Follow {
		t.Errorf("defaults sent: %+v", last)
	}
}

func TestLogsFollow(t *testing.T) {
	h := newHarness(t, fixtureServices()...)
	h.fake.SetLog("web", "", fixtureLog)
	ctx, cancel := context.WithCancel(waitCtx(t))
	defer cancel()
	var out, errOut testutil.SyncBuffer
	done := make(chan int, 1)
	go func() { done <- h.start(ctx, &out, &errOut, "logs", "web", "-f", "-n", "1") }()
	if !out.WaitFor(ctx, "shutting down") {
		t.Fatalf("no output: %q %q", out.String(), errOut.String())
	}
	select {
	case code := <-done:
		t.Fatalf("-f ended by itself with %d", code)
	default:
	}
	cancel() // as Ctrl-C does
	if code := <-done; code != ExitOK || out.String() != "shutting down" || errOut.String() != "" {
		t.Fatalf("after interrupt: code %d, out %q, err %q", code, out.String(), errOut.String())
	}
	calls := h.fake.Calls()
	if req := calls[len(calls)-1].Arg.(api.LogsRequest); !req.Follow || req.Lines != 1 {
		t.Errorf("request %+v", req)
	}
}
