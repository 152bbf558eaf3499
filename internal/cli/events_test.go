package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/cutover-dev/cutover/internal/deploy"
	"github.com/cutover-dev/cutover/internal/testutil"
)

func TestEventsFollowAll(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			h := newHarness(t, fixtureServices()...)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var out, errOut testutil.SyncBuffer
			code := make(chan int, 1)
			go func() { code <- h.start(ctx, &out, &errOut, "events", "-o", format) }()
			if err := h.fake.WaitSubscribers(waitCtx(t), 1); err != nil {
				t.Fatal(err)
			}
			for i, e := range deployedScript() {
				e.Service, e.OpID = []string{"web", "api"}[i%2], "op-5"
				h.fake.Publish(e)
			}
			last := deployedScript()[len(deployedScript())-1].Message
			if !out.WaitFor(waitCtx(t), last) {
				t.Fatalf("events not shown: %q", out.String())
			}
			cancel()
			if c := <-code; c != ExitOK {
				t.Fatalf("exit %d after Ctrl-C, want 0; stderr %q", c, errOut.String())
			}
			golden(t, "events_follow_"+format, out.String())
		})
	}
}

func TestEventsOfOneService(t *testing.T) {
	h := newHarness(t, fixtureServices()...)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out, errOut testutil.SyncBuffer
	code := make(chan int, 1)
	go func() { code <- h.start(ctx, &out, &errOut, "events", "web", "-o", "json") }()
	if err := h.fake.WaitSubscribers(waitCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	h.fake.Publish(deploy.Event{Service: "api", OpID: "op-1", Type: deploy.EventInfo, Message: "not shown"})
	h.fake.Publish(deploy.Event{Service: "web", OpID: "op-2", Type: deploy.EventInfo, Message: "shown"})
	if !out.WaitFor(waitCtx(t), "shown") {
		t.Fatal("web event not shown")
	}
	cancel()
	<-code
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var e deploy.Event
	if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &e) != nil || e.Service != "web" {
		t.Fatalf("output %q", out.String())
	}
}

func TestEventsServerGoesAway(t *testing.T) {
	h := newHarness(t, fixtureServices()...)
	var out, errOut testutil.SyncBuffer
	code := make(chan int, 1)
	go func() { code <- h.start(t.Context(), &out, &errOut, "events") }()
	if err := h.fake.WaitSubscribers(waitCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	h.stop()
	if c := <-code; c != ExitUnreachable || !strings.Contains(errOut.String(), "the server closed the event stream") {
		t.Fatalf("exit %d, stderr %q", c, errOut.String())
	}
}
