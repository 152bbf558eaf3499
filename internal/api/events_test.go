package api_test

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/api"
	"github.com/cutover-dev/cutover/internal/api/apitest"
	"github.com/cutover-dev/cutover/internal/deploy"
)

func script() []deploy.Event {
	return []deploy.Event{
		{Type: deploy.EventStep, Step: "start", Message: "starting v2"},
		{Type: deploy.EventStep, Step: "gate", Message: "v2 healthy after 3 probes", Elapsed: 1200 * time.Millisecond},
		{Type: deploy.EventStep, Step: "switch", Message: "traffic on v2"},
		{Type: deploy.EventDone, Message: "deployed v2", Outcome: "deployed"},
	}
}

func TestEventStreamOfOperation(t *testing.T) {
	fake := apitest.NewFake(services()...)
	fake.Script("deploy", script())
	ts := startServer(t, fake, nil)
	ctx := waitCtx(t)
	op, err := ts.unix.Deploy(ctx, deploy.DeployRequest{Service: "web", Version: "v2"})
	if err != nil {
		t.Fatal(err)
	}
	// A second operation's events must not leak into the first one's stream.
	if _, err := ts.unix.Deploy(ctx, deploy.DeployRequest{Service: "web", Version: "v3"}); err != nil {
		t.Fatal(err)
	}
	stream, err := ts.unix.Events(ctx, "web", op)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	var got []string
	for {
		ev, err := stream.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ev.OpID != op || ev.Service != "web" {
			t.Errorf("event of op %q service %q in stream of %q", ev.OpID, ev.Service, op)
		}
		got = append(got, ev.Step+"/"+string(ev.Type))
	}
	want := []string{"start/step", "gate/step", "switch/step", "/done"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("events = %v, want %v", got, want)
	}
	if err := fake.WaitSubscribers(ctx, 0); err != nil {
		t.Fatal(err)
	}
}

func TestEventStreamFollowsLive(t *testing.T) {
	fake := apitest.NewFake(services()...)
	ts := startServer(t, fake, nil)
	ctx := waitCtx(t)
	stream, err := ts.unix.Events(ctx, "web", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := fake.WaitSubscribers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	fake.Publish(deploy.Event{Service: "api", OpID: "op-9", Type: deploy.EventInfo, Message: "other service"})
	for i, ev := range script() {
		ev.Service, ev.OpID = "web", "op-1"
		fake.Publish(ev)
		got, err := stream.Next()
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if got.Message != ev.Message || got.Elapsed != ev.Elapsed {
			t.Fatalf("event %d = %+v, want %+v", i, got, ev)
		}
	}
	// Following a service does not end at an operation's done event.
	fake.Publish(deploy.Event{Service: "web", OpID: "op-2", Type: deploy.EventInfo, Message: "next op"})
	if got, err := stream.Next(); err != nil || got.OpID != "op-2" {
		t.Fatalf("after done: %+v, %v", got, err)
	}
	stream.Close()
	// The server notices the client leaving and cancels the subscription.
	if err := fake.WaitSubscribers(ctx, 0); err != nil {
		t.Fatal(err)
	}
}

func TestEventStreamEndsOnServerClose(t *testing.T) {
	fake := apitest.NewFake(services()...)
	ts := startServer(t, fake, nil)
	ctx := waitCtx(t)
	stream, err := ts.unix.Events(ctx, "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	if err := fake.WaitSubscribers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := ts.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Next(); !errors.Is(err, api.ErrStreamEnded) {
		t.Fatalf("Next after server close = %v, want ErrStreamEnded", err)
	}
	if n := fake.Subscribers(); n != 0 {
		t.Fatalf("%d subscriptions left after Close", n)
	}
}

func TestEventStreamContextCancel(t *testing.T) {
	fake := apitest.NewFake(services()...)
	ts := startServer(t, fake, nil)
	ctx, cancel := contextWithCancel(t)
	stream, err := ts.unix.Events(ctx, "web", "op-7")
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	if err := fake.WaitSubscribers(waitCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := stream.Next(); !errors.Is(err, ctx.Err()) || ctx.Err() == nil {
		t.Fatalf("Next after cancel = %v, want %v", err, ctx.Err())
	}
	if err := fake.WaitSubscribers(waitCtx(t), 0); err != nil {
		t.Fatal(err)
	}
}

func TestEventStreamHeartbeat(t *testing.T) {
	ts := startServer(t, apitest.NewFake(services()...), func(o *api.Options) { o.Heartbeat = 5 * time.Millisecond })
	req, _ := http.NewRequestWithContext(waitCtx(t), http.MethodGet, ts.tcp+"/v1/events?service=web", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := noRetryClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("Content-Type = %q", ct)
	}
	r := bufio.NewReader(resp.Body)
	for range 2 {
		line, err := r.ReadString('\n')
		if err != nil || line != "\n" {
			t.Fatalf("heartbeat line = %q, %v", line, err)
		}
	}
}

func TestEventStreamErrors(t *testing.T) {
	fake := apitest.NewFake(services()...)
	ts := startServer(t, fake, nil)
	if _, err := ts.unix.Events(t.Context(), "nope", ""); !errors.Is(err, deploy.ErrUnknownService) {
		t.Fatalf("unknown service: %v", err)
	}
}

func TestEventStreamAll(t *testing.T) {
	fake := apitest.NewFake(services()...)
	fake.Script("deploy", script())
	ts := startServer(t, fake, nil)
	ctx := waitCtx(t)
	op, err := ts.unix.Deploy(ctx, deploy.DeployRequest{Service: "web", Version: "v2"})
	if err != nil {
		t.Fatal(err)
	}
	stream, err := ts.unix.Events(ctx, "web", op)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	n := 0
	for ev, err := range stream.All() {
		if err != nil {
			t.Fatal(err)
		}
		if ev.Message != script()[n].Message {
			t.Errorf("event %d = %q", n, ev.Message)
		}
		n++
	}
	if n != len(script()) {
		t.Fatalf("%d events, want %d", n, len(script()))
	}
}
