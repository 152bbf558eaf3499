package proxy

import (
	"net/http"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/metrics"
)

func TestMetricsPerVersion(t *testing.T) {
	stable, canary := nameBackend(t, "stable"), nameBackend(t, "canary")
	reg := metrics.NewRegistry(metrics.Options{})
	p := newTestProxy(t, Options{Metrics: reg})
	spec := ServiceSpec{
		Name:      "web",
		Active:    Set{Version: "v1", Targets: []TargetSpec{{ID: "s", Addr: addrOf(stable)}}},
		Candidate: &Set{Version: "v2", Targets: []TargetSpec{{ID: "c", Addr: addrOf(canary)}, {ID: "dead", Addr: deadAddr(t)}}},
	}
	dead := oneSet("dead", "v9", TargetSpec{ID: "gone", Addr: deadAddr(t)})
	dead.Hosts = []string{"dead.test"}
	if err := p.Apply([]ServiceSpec{spec, dead}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 6; i++ {
		serve(p, "GET", "http://x/", http.Header{"X-Cutover-Version": {"v1"}})
	}
	for i := 0; i < 4; i++ {
		serve(p, "GET", "http://x/", http.Header{"X-Cutover-Version": {"v2"}})
	}
	serve(p, "GET", "http://dead.test/", nil)

	v1 := reg.Snapshot("web", "v1", time.Minute)
	v2 := reg.Snapshot("web", "v2", time.Minute)
	v9 := reg.Snapshot("dead", "v9", time.Minute)
	if v1.Requests != 6 || v1.Status2xx != 6 || v1.InFlight != 0 {
		t.Errorf("v1 stats %+v", v1)
	}
	// The dead candidate target is retried on the live one: no errors.
	if v2.Requests != 4 || v2.Status2xx != 4 || v2.ConnErrors != 0 {
		t.Errorf("v2 stats %+v", v2)
	}
	if v9.Requests != 1 || v9.Status5xx != 1 || v9.ConnErrors != 1 || v9.InFlight != 0 {
		t.Errorf("v9 stats %+v", v9)
	}
}
