package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestEjectionAndFailOpen(t *testing.T) {
	a, b := nameBackend(t, "a"), nameBackend(t, "b")
	p := newTestProxy(t, Options{})
	spec := oneSet("web", "v1", TargetSpec{ID: "a", Addr: addrOf(a)}, TargetSpec{ID: "b", Addr: addrOf(b)})
	if err := p.Apply([]ServiceSpec{spec}); err != nil {
		t.Fatal(err)
	}
	count := func(n int) map[string]int {
		got := map[string]int{}
		for i := 0; i < n; i++ {
			w := serve(p, "GET", "http://x/", nil)
			got[w.Body.String()]++
		}
		return got
	}
	if got := count(10); got["a"] != 5 || got["b"] != 5 {
		t.Fatalf("round robin %v", got)
	}
	p.SetHealthy("a", false)
	if got := count(10); got["b"] != 10 {
		t.Fatalf("with a unhealthy %v", got)
	}
	p.SetHealthy("b", false)
	if got := count(10); got["a"]+got["b"] != 10 {
		t.Fatalf("fail open %v", got)
	}
	s := p.Services()[0]
	if !s.FailOpen || !s.Active.FailOpen {
		t.Fatalf("fail-open not reported: %+v", s)
	}
	p.SetHealthy("b", true)
	if got := count(4); got["b"] != 4 {
		t.Fatalf("after recovery %v", got)
	}
	if p.Services()[0].FailOpen {
		t.Fatal("still reported fail-open")
	}

	// A refused connection ejects the target until it is reported healthy.
	b.Close()
	p.SetHealthy("a", true)
	if got := count(6); got["a"] != 6 {
		t.Fatalf("after b died %v", got)
	}
	if ti := p.Services()[0].Active.Targets[1]; !ti.Ejected {
		t.Fatalf("b not ejected: %+v", ti)
	}
	p.SetHealthy("b", true)
	if ti := p.Services()[0].Active.Targets[1]; ti.Ejected {
		t.Fatalf("b still ejected after SetHealthy: %+v", ti)
	}
}

func TestLeastInFlight(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-release
		_, _ = io.WriteString(w, "slow")
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })
	fast := nameBackend(t, "fast")
	p := newTestProxy(t, Options{})
	spec := oneSet("web", "v1", TargetSpec{ID: "slow", Addr: addrOf(slow)}, TargetSpec{ID: "fast", Addr: addrOf(fast)})
	spec.Balance = LeastInFlight
	if err := p.Apply([]ServiceSpec{spec}); err != nil {
		t.Fatal(err)
	}
	// Park one request on slow, then every other request must go to fast.
	go func() {
		for {
			w := serve(p, "GET", "http://x/", nil)
			if w.Body.String() == "slow" {
				return
			}
		}
	}()
	<-started
	for i := 0; i < 10; i++ {
		if w := serve(p, "GET", "http://x/", nil); w.Body.String() != "fast" {
			t.Fatalf("request %d went to %q", i, w.Body.String())
		}
	}
	if n := p.InFlight("slow"); n != 1 {
		t.Fatalf("InFlight(slow) = %d", n)
	}
}
