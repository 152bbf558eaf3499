package api_test

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/cutover-dev/cutover/internal/api"
	"github.com/cutover-dev/cutover/internal/api/apitest"
	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/deploy"
	"github.com/cutover-dev/cutover/internal/store"
)

func TestErrorMapping(t *testing.T) {
	configErrs := config.Errors{
		{File: "cutover.yaml", Line: 4, Path: "services.web.ports", Msg: "no ports", Fix: "add ports: [8080, 8081]"},
		{File: "cutover.yaml", Line: 9, Path: "services.web.strategy", Msg: `unknown strategy "blue"`},
	}
	tests := []struct {
		name     string
		err      error
		status   int
		code     string
		sentinel error
	}{
		{"unknown service", fmt.Errorf("%w: %q", deploy.ErrUnknownService, "web"), 404, api.CodeUnknownService, deploy.ErrUnknownService},
		{"busy", fmt.Errorf("web: %w (deploy v2)", deploy.ErrBusy), 409, api.CodeBusy, deploy.ErrBusy},
		{"invalid", fmt.Errorf("%w: version has a space", deploy.ErrInvalid), 400, api.CodeInvalid, deploy.ErrInvalid},
		{"no operation", deploy.ErrNoOperation, 409, api.CodeNoOperation, deploy.ErrNoOperation},
		{"nothing to roll back", deploy.ErrNothingToRollBack, 409, api.CodeNothingToRollBack, deploy.ErrNothingToRollBack},
		{"invalid config", fmt.Errorf("reload: %w", configErrs), 400, api.CodeInvalidConfig, config.ErrInvalid},
		{"anything else", errors.New("disk full"), 500, api.CodeInternal, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := apitest.NewFake(services()...)
			ts := startServer(t, fake, nil)
			fake.FailWith("Promote", tt.err)
			fake.FailWith("Reload", tt.err)
			for name, call := range map[string]func() error{
				"promote": func() error { return ts.unix.Promote(t.Context(), "web") },
				"reload":  func() error { return ts.unix.Reload(t.Context()) },
			} {
				err := call()
				ae, ok := errors.AsType[*api.Error](err)
				if !ok {
					t.Fatalf("%s: err = %v (%T), want *api.Error", name, err, err)
				}
				wantMsg := tt.err.Error()
				if tt.code == api.CodeInvalidConfig {
					wantMsg = "the config file has 2 problems; the running config is unchanged"
				}
				if ae.Status != tt.status || ae.Code != tt.code || ae.Message != wantMsg {
					t.Errorf("%s: got %d %s %q, want %d %s %q", name, ae.Status, ae.Code, ae.Message,
						tt.status, tt.code, wantMsg)
				}
				if tt.sentinel != nil && !errors.Is(err, tt.sentinel) {
					t.Errorf("%s: errors.Is(err, %v) = false", name, tt.sentinel)
				}
				if tt.code == api.CodeInvalidConfig && !reflect.DeepEqual(ae.Details,
					[]string{configErrs[0].Error(), configErrs[1].Error()}) {
					t.Errorf("%s: details = %q, want one per config error", name, ae.Details)
				}
			}
		})
	}
}

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
	step(c.Reload(ctx), apitest.Call{Method: "Reload"})
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

func TestBadRequestBodies(t *testing.T) {
	ts := startServer(t, apitest.NewFake(services()...), nil)
	tests := []struct {
		name, path, body string
		status           int
		want             []string
	}{
		{"wrong type", "deploy", `{"version": 2}`, 400, []string{`field \"version\" must be a string, not number`}},
		{"unknown field", "deploy", `{"verison":"v2"}`, 400, []string{`unknown field \"verison\"`, "version, strategy, targets, force, watch"}},
		{"service in body", "deploy", `{"version":"v2","service":"api"}`, 400, []string{`unknown field \"service\"`}},
		{"list of strings", "deploy", `{"version":"v2","targets":"a:1"}`, 400, []string{`field \"targets\" must be a list of strings`}},
		{"missing version", "deploy", `{"strategy":"canary"}`, 400, []string{`field \"version\" is required`}},
		{"empty body", "deploy", ``, 400, []string{"request body is empty", "version"}},
		{"truncated", "deploy", `{"version":"v2"`, 400, []string{"truncated"}},
		{"syntax", "deploy", `{"version":v2}`, 400, []string{"not valid JSON"}},
		{"not an object", "deploy", `["v2"]`, 400, []string{"must be a JSON object"}},
		{"trailing data", "deploy", `{"version":"v2"} {}`, 400, []string{"data after the JSON object"}},
		{"too large", "deploy", `{"version":"` + strings.Repeat("x", 2<<20) + `"}`, 413, []string{`"code": "too_large"`}},
		{"bad watch", "deploy", `{"version":"v2","watch":"soon"}`, 400, []string{`field \"watch\" must be a duration`}},
		{"percent missing", "weight", `{}`, 400, []string{`field \"percent\" is required`}},
		{"percent range", "weight", `{"percent":150}`, 400, []string{`from 0 to 100, not 150`}},
		{"percent type", "weight", `{"percent":"10"}`, 400, []string{`field \"percent\" must be a number`}},
		{"promote takes no fields", "promote", `{"force":true}`, 400, []string{`unknown field \"force\"`, "(none)"}},
		{"rollback to", "rollback", `{"to":1}`, 400, []string{`field \"to\" must be a string`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.raw(t, http.MethodPost, "/v1/services/web/"+tt.path, tt.body)
			if r.status != tt.status {
				t.Errorf("status = %d, want %d; body %s", r.status, tt.status, r.body)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.body, w) {
					t.Errorf("body %s does not contain %s", r.body, w)
				}
			}
		})
	}
	if n := len(ts.fake.Calls()); n != 0 {
		t.Errorf("backend called %d times for bad requests", n)
	}
}

func TestEmptyBodiesAllowedForActions(t *testing.T) {
	ts := startServer(t, apitest.NewFake(services()...), nil)
	for _, p := range []string{"/v1/services/web/promote", "/v1/services/web/rollback", "/v1/reload"} {
		for _, body := range []string{"", "{}"} {
			if r := ts.raw(t, http.MethodPost, p, body); r.status/100 != 2 {
				t.Errorf("POST %s %q = %d %s", p, body, r.status, r.body)
			}
		}
	}
}
