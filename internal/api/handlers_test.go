package api_test

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/cutover-dev/cutover/internal/api/apitest"
	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/deploy"
	"github.com/cutover-dev/cutover/internal/store"
)

func TestConcurrentDeployRefused(t *testing.T) {
	fake := apitest.NewFake(services()...)
	ts := startServer(t, fake, nil)
	if _, err := ts.unix.Deploy(t.Context(), deploy.DeployRequest{Service: "web", Version: "v2"}); err != nil {
		t.Fatal(err)
	}
	fake.FailWith("Deploy", fmt.Errorf("web: %w: deploy of v2 (op-1) is in phase gating", deploy.ErrBusy))
	r := ts.raw(t, http.MethodPost, "/v1/services/web/deploy", `{"version":"v3"}`)
	if r.status != http.StatusConflict {
		t.Fatalf("status = %d, want 409; body %s", r.status, r.body)
	}
	for _, want := range []string{`"code": "busy"`, "another operation is in progress", "op-1"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("body %s does not contain %q", r.body, want)
		}
	}
}

func TestRequestsReachBackend(t *testing.T) {
	fake := apitest.NewFake(services()...)
	ts := startServer(t, fake, nil)
	ctx := t.Context()
	c := ts.unix
	want := []apitest.Call{}
	step := func(err error, call apitest.Call) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", call.Method, err)
		}
		want = append(want, call)
	}
	req := deploy.DeployRequest{Service: "web", Version: "v2", Strategy: "canary", Targets: []string{"10.0.0.1:80"}, Force: true, Watch: "30s"}
	id, err := c.Deploy(ctx, req)
	step(err, apitest.Call{Method: "Deploy", Service: "web", Arg: req})
	if id != "op-1" {
		t.Errorf("op id = %q, want op-1", id)
	}
	rb := deploy.RollbackRequest{Service: "web", To: "v1"}
	_, err = c.Rollback(ctx, rb)
	step(err, apitest.Call{Method: "Rollback", Service: "web", Arg: rb})
	step(c.Promote(ctx, "web"), apitest.Call{Method: "Promote", Service: "web"})
	step(c.Abort(ctx, "web"), apitest.Call{Method: "Abort", Service: "web"})
	step(c.Pause(ctx, "web"), apitest.Call{Method: "Pause", Service: "web"})
	step(c.Resume(ctx, "web"), apitest.Call{Method: "Resume", Service: "web"})
	step(c.SetWeight(ctx, "web", 12.5), apitest.Call{Method: "SetWeight", Service: "web", Arg: 12.5})
	st, err := c.Status(ctx, "api")
	step(err, apitest.Call{Method: "Status", Service: "api"})
	if st.Name != "api" || st.Runtime != "docker" {
		t.Errorf("status = %+v", st)
	}
	all, err := c.StatusAll(ctx)
	step(err, apitest.Call{Method: "StatusAll"})
	if len(all) != 2 || all[0].Name != "web" || all[1].Name != "api" {
		t.Errorf("status all = %+v", all)
	}
	_, err = c.History(ctx, "web", 5)
	step(err, apitest.Call{Method: "History", Service: "web", Arg: 5})
	fake.SetReload(config.Changes{Added: []string{"blog"}, Restart: []string{"admin.socket"}})
	ch, err := c.Reload(ctx, deploy.ReloadOptions{AllowRemove: true})
	step(err, apitest.Call{Method: "Reload", Arg: deploy.ReloadOptions{AllowRemove: true}})
	if len(ch.Added) != 1 || ch.Added[0] != "blog" || len(ch.Restart) != 1 {
		t.Errorf("reload changes = %+v", ch)
	}
	fake.SetConfig(&config.Config{StateDir: "/srv/state", ServiceOrder: []string{"web"}})
	cfg, err := c.Config(ctx)
	step(err, apitest.Call{Method: "Config"})
	if cfg == nil || cfg.StateDir != "/srv/state" {
		t.Errorf("config = %+v", cfg)
	}
	if got := fake.Calls(); !reflect.DeepEqual(got, want) {
		t.Errorf("calls:\n got %+v\nwant %+v", got, want)
	}
}

func TestHistory(t *testing.T) {
	fake := apitest.NewFake(services()...)
	recs := []store.HistoryRecord{{ID: "op-3", Version: "v3"}, {ID: "op-2", Version: "v2"}, {ID: "op-1", Version: "v1"}}
	fake.SetHistory("web", recs)
	ts := startServer(t, fake, nil)
	got, err := ts.unix.History(t.Context(), "web", 2)
	if err != nil || len(got) != 2 || got[0].ID != "op-3" {
		t.Fatalf("History(2) = %+v, %v", got, err)
	}
	got, err = ts.unix.History(t.Context(), "web", 0)
	if err != nil || len(got) != 3 {
		t.Fatalf("History(0) = %+v, %v", got, err)
	}
	if r := ts.raw(t, http.MethodGet, "/v1/services/web/history?limit=x", ""); r.status != 400 || !strings.Contains(r.body, "limit") {
		t.Errorf("limit=x: %d %s", r.status, r.body)
	}
	if r := ts.raw(t, http.MethodGet, "/v1/services/api/history", ""); r.status != 200 || !strings.Contains(r.body, `"records": []`) {
		t.Errorf("empty history: %d %s", r.status, r.body)
	}
	if _, err := ts.unix.History(t.Context(), "nope", 0); !errors.Is(err, deploy.ErrUnknownService) {
		t.Errorf("unknown service: %v", err)
	}
}
