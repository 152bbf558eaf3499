package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/cutover-dev/cutover/internal/api/apitest"
	"github.com/cutover-dev/cutover/internal/deploy"
	"github.com/cutover-dev/cutover/internal/store"
	"github.com/cutover-dev/cutover/internal/testutil"
)

func TestDeployProgressGolden(t *testing.T) {
	tests := []struct {
		name   string
		script []deploy.Event
		args   []string
		code   int
	}{
		{"deploy_text_deployed", deployedScript(), nil, ExitOK},
		{"deploy_text_failed", failedScript(), nil, ExitFailed},
		{"deploy_json_deployed", deployedScript(), []string{"-o", "json"}, ExitOK},
		{"deploy_json_failed", failedScript(), []string{"-o", "json"}, ExitFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, fixtureServices()...)
			h.fake.Script("deploy", tt.script)
			r := h.run(t, append([]string{"deploy", "web", "v2"}, tt.args...)...)
			if r.code != tt.code || r.stderr != "" {
				t.Fatalf("exit %d (want %d), stderr %q", r.code, tt.code, r.stderr)
			}
			golden(t, tt.name, r.stdout)
		})
	}
}

func TestDeployJSONIsOneEventPerLine(t *testing.T) {
	h := newHarness(t, fixtureServices()...)
	h.fake.Script("deploy", deployedScript())
	r := h.run(t, "deploy", "web", "v2", "-o", "json")
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != len(deployedScript()) {
		t.Fatalf("%d lines, want %d", len(lines), len(deployedScript()))
	}
	for i, line := range lines {
		var e deploy.Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		want := deployedScript()[i]
		if e.Step != want.Step || e.Message != want.Message || e.OpID != "op-1" || e.Service != "web" {
			t.Errorf("line %d = %+v", i, e)
		}
	}
}

func TestDeployOutcomeExitCodes(t *testing.T) {
	tests := []struct {
		outcome store.Outcome
		code    int
	}{
		{store.OutcomeDeployed, ExitOK},
		{store.OutcomeFailed, ExitFailed},
		{store.OutcomeRolledBack, ExitRolledBack},
		{store.OutcomeAborted, ExitAborted},
		{"something new", ExitFailed},
	}
	for _, tt := range tests {
		t.Run(tt.outcome.String(), func(t *testing.T) {
			h := newHarness(t, fixtureServices()...)
			h.fake.Script("deploy", outcomeScript(tt.outcome))
			h.fake.Script("rollback", outcomeScript(tt.outcome))
			if r := h.run(t, "deploy", "web", "v2"); r.code != tt.code {
				t.Errorf("deploy exit %d, want %d", r.code, tt.code)
			}
			if r := h.run(t, "rollback", "web"); r.code != tt.code {
				t.Errorf("rollback exit %d, want %d", r.code, tt.code)
			}
			if r := h.run(t, "events", "web", "--op", "op-1"); r.code != tt.code {
				t.Errorf("events --op exit %d, want %d", r.code, tt.code)
			}
		})
	}
}

func TestDeployRequestFields(t *testing.T) {
	h := newHarness(t, fixtureServices()...)
	h.fake.Script("deploy", outcomeScript(store.OutcomeDeployed))
	r := h.run(t, "deploy", "api", "v8", "--strategy", "canary", "--target", "10.0.0.5:80", "--target", "10.0.0.6:80", "--force", "--watch", "30s")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	want := deploy.DeployRequest{Service: "api", Version: "v8", Strategy: "canary",
		Targets: []string{"10.0.0.5:80", "10.0.0.6:80"}, Force: true, Watch: "30s"}
	if got := h.fake.Calls()[0]; !reflect.DeepEqual(got, apitest.Call{Method: "Deploy", Service: "api", Arg: want}) {
		t.Errorf("call %+v", got)
	}
	h.fake.Script("rollback", outcomeScript(store.OutcomeDeployed))
	if r := h.run(t, "rollback", "web", "--to", "v1"); r.code != ExitOK || !strings.Contains(r.stdout, "Rolling back web to v1") {
		t.Fatalf("rollback: %+v", r)
	}
	var rb apitest.Call
	for _, c := range h.fake.Calls() {
		if c.Method == "Rollback" {
			rb = c
		}
	}
	if rb.Arg != (deploy.RollbackRequest{Service: "web", To: "v1"}) {
		t.Errorf("rollback call %+v", rb)
	}
}

func TestDeployDetach(t *testing.T) {
	h := newHarness(t, fixtureServices()...)
	r := h.run(t, "deploy", "web", "v2", "--detach")
	if r.code != ExitOK || r.stdout != "Started deploy of web v2 as operation op-1.\nFollow it: cutover events web --op op-1\n" {
		t.Fatalf("got %+v", r)
	}
	r = h.run(t, "deploy", "web", "v3", "--detach", "-o", "json")
	var out map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out["op_id"] != "op-2" || out["service"] != "web" {
		t.Fatalf("json detach %q: %v", r.stdout, err)
	}
	if n := h.fake.Subscribers(); n != 0 {
		t.Errorf("detach left %d subscriptions", n)
	}
}

// TestDeployInterrupt cancels the command (as Ctrl-C does) while it follows
// a deploy that has not finished.
func TestDeployInterrupt(t *testing.T) {
	h := newHarness(t, fixtureServices()...)
	h.fake.Script("deploy", deployedScript()[:2])
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out, errOut testutil.SyncBuffer
	code := make(chan int, 1)
	go func() { code <- h.start(ctx, &out, &errOut, "deploy", "web", "v2") }()
	if !out.WaitFor(waitCtx(t), "v2 healthy after 3 probes") {
		t.Fatalf("progress not shown: %q", out.String())
	}
	cancel()
	if c := <-code; c != ExitStillRunning {
		t.Errorf("exit %d, want %d", c, ExitStillRunning)
	}
	golden(t, "deploy_interrupted_stderr", errOut.String())
	if err := h.fake.WaitSubscribers(waitCtx(t), 0); err != nil {
		t.Error(err)
	}
	for _, c := range h.fake.Calls() {
		if c.Method == "Abort" {
			t.Error("Ctrl-C aborted the deploy")
		}
	}
}

func TestDeployTimeout(t *testing.T) {
	h := newHarness(t, fixtureServices()...)
	h.fake.Script("deploy", deployedScript()[:1])
	r := h.run(t, "deploy", "web", "v2", "--timeout", "50ms")
	if r.code != ExitStillRunning || !strings.Contains(r.stderr, "Gave up waiting after 50ms; the deploy of web goes on (operation op-1)") {
		t.Fatalf("got %+v", r)
	}
	if r := h.run(t, "deploy", "web", "v2", "--timeout", "-1s"); r.code != ExitUsage {
		t.Errorf("negative timeout: exit %d", r.code)
	}
}

// TestDeployWaitQueuesBehindABusyService: with --wait a deploy refused
// because another operation holds the service is started once it is free,
// after saying once what it waits for; without it the refusal is exit 5.
func TestDeployWaitQueuesBehindABusyService(t *testing.T) {
	busy := fmt.Errorf("%w: service web: deploy of v1 (op op-0) is running since 12:00:00: watching v1 after the switch", deploy.ErrBusy)
	h := newHarness(t, fixtureServices()...)
	h.fake.Script("deploy", deployedScript())
	h.fake.FailTimes("Deploy", busy, 2)
	r := h.run(t, "deploy", "web", "v2", "--wait")
	if r.code != ExitOK {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if strings.Count(r.stderr, "Waiting to start the deploy of web v2") != 1 || !strings.Contains(r.stderr, "watching v1") {
		t.Errorf("stderr %q, want one line saying what the deploy waits for", r.stderr)
	}
	if n := len(h.fake.Calls()); n < 3 {
		t.Errorf("%d calls, want the two refused and the one that started", n)
	}
	h.fake.FailTimes("Deploy", busy, 1)
	if r := h.run(t, "deploy", "web", "v2"); r.code != ExitRefused || !strings.Contains(r.stderr, "watching v1") {
		t.Errorf("without --wait: exit %d, stderr %q; want 5 with the reason", r.code, r.stderr)
	}
}
