package static

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/runtime"
)

func TestStart(t *testing.T) {
	svc := &config.Service{
		Name: "web",
		Static: &config.Static{
			Targets: map[string][]string{
				"v1": {"10.0.0.1:80", "10.0.0.2:80"},
				"v2": {"10.0.0.3:80"},
			},
			Address: "127.0.0.1:{{.Port}}",
		},
	}
	tests := []struct {
		name     string
		spec     runtime.StartSpec
		wantAddr string
		wantPort int
	}{
		{"spec targets win", runtime.StartSpec{Version: "v1", Targets: []string{"192.0.2.1:8080"}}, "192.0.2.1:8080", 0},
		{"spec targets by index", runtime.StartSpec{Version: "v1", Targets: []string{"a:1", "b:2"}, Index: 1}, "b:2", 0},
		{"version targets", runtime.StartSpec{Version: "v1"}, "10.0.0.1:80", 0},
		{"version targets by index", runtime.StartSpec{Version: "v1", Index: 1}, "10.0.0.2:80", 0},
		{"address template", runtime.StartSpec{Version: "v3", Port: 9001}, "127.0.0.1:9001", 9001},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.Service = svc
			tt.spec.InstanceID = "web-x"
			inst, err := New().Start(context.Background(), tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if inst.Addr != tt.wantAddr || inst.Port != tt.wantPort || inst.Runtime != "static" ||
				inst.ID != "web-x" || inst.Service != "web" || inst.Version != tt.spec.Version {
				t.Fatalf("instance = %+v, want addr %s port %d", inst, tt.wantAddr, tt.wantPort)
			}
		})
	}
}

func TestStartErrors(t *testing.T) {
	tests := []struct {
		name   string
		static *config.Static
		spec   runtime.StartSpec
		want   string
	}{
		{"no static section", nil, runtime.StartSpec{Version: "v1"}, "services.web has no static section"},
		{"no target for version", &config.Static{Targets: map[string][]string{"v1": {"a:1"}, "v0": {"b:1"}}},
			runtime.StartSpec{Version: "v2"}, "no entry for version v2 (has v0, v1)"},
		{"too few targets", &config.Static{Targets: map[string][]string{"v1": {"a:1"}}},
			runtime.StartSpec{Version: "v1", Index: 1}, "services.web.static.targets.v1 lists 1 addresses, replica 1"},
		{"too few spec targets", &config.Static{}, runtime.StartSpec{Version: "v1", Targets: []string{"a:1"}, Index: 2}, "only 1 targets"},
		{"negative index", &config.Static{}, runtime.StartSpec{Version: "v1", Index: -1}, "negative"},
		{"not host:port", &config.Static{Targets: map[string][]string{"v1": {"localhost"}}},
			runtime.StartSpec{Version: "v1"}, `address "localhost" is not host:port`},
		{"bad template", &config.Static{Address: "127.0.0.1:{{.Prot}}"}, runtime.StartSpec{Version: "v1"},
			"services.web.static.address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.Service = &config.Service{Name: "web", Static: tt.static}
			_, err := New().Start(context.Background(), tt.spec)
			if !errors.Is(err, ErrNoTarget) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrNoTarget mentioning %q", err, tt.want)
			}
		})
	}
	if _, err := New().Start(context.Background(), runtime.StartSpec{}); !errors.Is(err, ErrNoTarget) {
		t.Fatalf("no service: %v", err)
	}
}

func TestNothingToManage(t *testing.T) {
	r := New()
	ctx := context.Background()
	inst := runtime.Instance{ID: "x", Addr: "127.0.0.1:1"}
	if r.Kind() != "static" {
		t.Fatalf("Kind = %q", r.Kind())
	}
	if st, err := r.Inspect(ctx, inst); err != nil || !st.Running {
		t.Fatalf("Inspect = %+v, %v", st, err)
	}
	if err := r.Stop(ctx, inst, time.Second); err != nil {
		t.Fatal(err)
	}
	if s, err := r.LogTail(ctx, inst, 10); s != "" || err != nil {
		t.Fatalf("LogTail = %q, %v", s, err)
	}
	if l, err := r.List(ctx); l != nil || err != nil {
		t.Fatalf("List = %v, %v", l, err)
	}
}
