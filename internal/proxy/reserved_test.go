package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestReservedPathAnsweredAheadOfRoutes(t *testing.T) {
	p, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://any.example"+path, nil))
		b, _ := io.ReadAll(rec.Result().Body)
		return rec.Code, string(b)
	}
	if code, _ := get("/.cutover/ready"); code != http.StatusNotFound {
		t.Fatalf("before SetReserved: %d, want 404 from the empty table", code)
	}
	p.SetReserved("/.cutover/ready", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "not ready")
	}))
	if code, body := get("/.cutover/ready"); code != http.StatusServiceUnavailable || body != "not ready" {
		t.Fatalf("reserved path: %d %q", code, body)
	}
	if code, _ := get("/.cutover/ready/x"); code != http.StatusNotFound {
		t.Fatalf("a longer path must be routed as usual, got %d", code)
	}
	p.SetReserved("/.cutover/ready", nil)
	if code, _ := get("/.cutover/ready"); code != http.StatusNotFound {
		t.Fatalf("after removal: %d", code)
	}
}
