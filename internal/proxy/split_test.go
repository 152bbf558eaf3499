package proxy

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

func splitProxy(t *testing.T, weight float64, stickyHeader string) *Proxy {
	t.Helper()
	stable, canary := nameBackend(t, "stable"), nameBackend(t, "canary")
	p := newTestProxy(t, Options{})
	spec := ServiceSpec{
		Name:         "web",
		Active:       Set{Version: "v1", Targets: []TargetSpec{{ID: "s", Addr: addrOf(stable)}}},
		Candidate:    &Set{Version: "v2", Targets: []TargetSpec{{ID: "c", Addr: addrOf(canary)}}},
		Weight:       weight,
		StickyHeader: stickyHeader,
	}
	if err := p.Apply([]ServiceSpec{spec}); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCandidateSplit(t *testing.T) {
	t.Parallel()
	p := splitProxy(t, 10, "")
	const n, workers = 20000, 2
	var canary, cookieless atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n/workers; i++ {
				w := serve(p, "GET", "http://x/", nil)
				if w.Body.String() == "canary" {
					canary.Add(1)
				}
				if w.Code != 200 || len(w.Result().Cookies()) != 1 {
					cookieless.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if cookieless.Load() != 0 {
		t.Fatalf("%d responses failed or set no sticky cookie for a new user", cookieless.Load())
	}
	if share := float64(canary.Load()) / n * 100; math.Abs(share-10) > 1.5 {
		t.Fatalf("candidate share %.2f%%, want 10%% ± 1.5", share)
	}
}

func TestStickyCookieKeepsUser(t *testing.T) {
	p := splitProxy(t, 50, "")
	seen := map[string]bool{}
	for user := 0; user < 20; user++ {
		first := serve(p, "GET", "http://x/", nil)
		cookies := first.Result().Cookies()
		if len(cookies) != 1 || cookies[0].Name != DefaultStickyCookie || cookies[0].Value == "" {
			t.Fatalf("cookies %v", cookies)
		}
		version := first.Body.String()
		seen[version] = true
		hdr := http.Header{"Cookie": {cookies[0].Name + "=" + cookies[0].Value + "; other=1"}}
		for i := 0; i < 20; i++ {
			w := serve(p, "GET", "http://x/", hdr)
			if w.Body.String() != version {
				t.Fatalf("user %d moved from %s to %s", user, version, w.Body.String())
			}
			if len(w.Result().Cookies()) != 0 {
				t.Fatal("cookie set again for a known user")
			}
		}
	}
	if !seen["stable"] || !seen["canary"] {
		t.Fatalf("50%% split sent 20 users only to %v", seen)
	}
}

func TestRaisingWeightOnlyMovesUsersToCandidate(t *testing.T) {
	p := splitProxy(t, 20, "X-User-Id")
	at := func() map[string]string {
		m := map[string]string{}
		for u := 0; u < 500; u++ {
			id := "user-" + strconv.Itoa(u)
			m[id] = serve(p, "GET", "http://x/", http.Header{"X-User-Id": {id}}).Body.String()
		}
		return m
	}
	before := at()
	if err := p.SetWeight("web", 60); err != nil {
		t.Fatal(err)
	}
	after := at()
	for id, v := range before {
		if v == "canary" && after[id] != "canary" {
			t.Fatalf("%s moved back from canary", id)
		}
	}
}

func TestForcedVersion(t *testing.T) {
	for _, weight := range []float64{0, 100} {
		p := splitProxy(t, weight, "")
		for _, tc := range []struct {
			hdr  http.Header
			want string
		}{
			{http.Header{"X-Cutover-Version": {"v2"}}, "canary"},
			{http.Header{"X-Cutover-Version": {"v1"}}, "stable"},
			{http.Header{"Cookie": {"cutover_version=v2"}}, "canary"},
			{http.Header{"Cookie": {"a=b; cutover_version=v1"}}, "stable"},
		} {
			for i := 0; i < 5; i++ {
				if got := serve(p, "GET", "http://x/", tc.hdr).Body.String(); got != tc.want {
					t.Fatalf("weight %v, %v: got %s, want %s", weight, tc.hdr, got, tc.want)
				}
			}
		}
		// An unknown version is ignored.
		want := map[float64]string{0: "stable", 100: "canary"}[weight]
		if got := serve(p, "GET", "http://x/", http.Header{"X-Cutover-Version": {"v9"}}).Body.String(); got != want {
			t.Fatalf("weight %v unknown forced version went to %s", weight, got)
		}
	}
}

func TestStickyHeader(t *testing.T) {
	t.Parallel()
	p := splitProxy(t, 30, "X-User-Id")
	canary := 0
	for u := 0; u < 1000; u++ {
		hdr := http.Header{"X-User-Id": {"u" + strconv.Itoa(u)}}
		first := serve(p, "GET", "http://x/", hdr)
		if len(first.Result().Cookies()) != 0 {
			t.Fatal("cookie set although the sticky header keyed the user")
		}
		for i := 0; i < 2; i++ {
			if got := serve(p, "GET", "http://x/", hdr).Body.String(); got != first.Body.String() {
				t.Fatalf("user u%d moved from %s to %s", u, first.Body.String(), got)
			}
		}
		if first.Body.String() == "canary" {
			canary++
		}
	}
	if share := float64(canary) / 10; math.Abs(share-30) > 5 {
		t.Fatalf("candidate share %.1f%%, want ~30%%", share)
	}
}
