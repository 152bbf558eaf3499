package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/cutover-dev/cutover/internal/api/apitest"
)

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
