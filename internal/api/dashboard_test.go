package api_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/cutover-dev/cutover/internal/api"
	"github.com/cutover-dev/cutover/internal/api/apitest"
	"github.com/cutover-dev/cutover/internal/dashboard"
)

// browserSession logs in with a code from the socket and returns the
// session cookie and the CSRF token, as a browser on base would hold them.
func browserSession(t *testing.T, ts *testServer, base string, send func(*http.Request) *http.Response) (*http.Cookie, string) {
	t.Helper()
	login, err := ts.unix.DashboardLogin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(login.Path, "/ui/login?code=") || login.Code == "" {
		t.Fatalf("login %+v", login)
	}
	req, _ := http.NewRequest("GET", base+login.Path, nil)
	resp := send(req)
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 {
		t.Fatalf("login: status %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	ck := resp.Cookies()[0]
	req, _ = http.NewRequest("GET", base+"/ui/session", nil)
	req.AddCookie(ck)
	resp = send(req)
	var info struct {
		CSRF string `json:"csrf"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil || info.CSRF == "" {
		t.Fatalf("/ui/session: %d, %v", resp.StatusCode, err)
	}
	return ck, info.CSRF
}

// sender sends requests with c without following redirects.
func sender(t *testing.T, c *http.Client) func(*http.Request) *http.Response {
	return func(r *http.Request) *http.Response {
		t.Helper()
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := c.Do(r.WithContext(t.Context()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
}

func TestDashboardSessionOnTCP(t *testing.T) {
	fake := apitest.NewFake(services()...)
	ts := startServer(t, fake, func(o *api.Options) { o.AuthBurst = 100 })
	send := sender(t, noRetryClient())
	ck, csrf := browserSession(t, ts, ts.tcp, send)
	host := strings.TrimPrefix(ts.tcp, "http://")
	for _, tc := range []struct {
		name    string
		method  string
		cookie  bool
		headers map[string]string
		status  int
	}{
		{"page without a session", "GET", false, nil, http.StatusUnauthorized},
		{"read with the session", "GET", true, nil, http.StatusOK},
		{"change without the csrf token", "POST", true, nil, http.StatusForbidden},
		{"change from another origin", "POST", true, map[string]string{dashboard.CSRFHeader: csrf, "Origin": "http://evil.example"}, http.StatusForbidden},
		{"change from the page", "POST", true, map[string]string{dashboard.CSRFHeader: csrf, "Origin": "http://" + host}, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := "/v1/services"
			if tc.method == "POST" {
				path = "/v1/services/web/pause"
			}
			req, _ := http.NewRequest(tc.method, ts.tcp+path, strings.NewReader("{}"))
			if tc.cookie {
				req.AddCookie(ck)
			}
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			if resp := send(req); resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
		})
	}
}

func TestDashboardForwardedNeedsSession(t *testing.T) {
	ts := startServer(t, apitest.NewFake(services()...), nil)
	sock := ts.SocketPath()
	viaSocket := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	send := sender(t, viaSocket)
	get := func(path string, forwarded bool, ck *http.Cookie) int {
		req, _ := http.NewRequest("GET", "http://127.0.0.1:7071"+path, nil)
		if forwarded {
			req.Header.Set(dashboard.ForwardedHeader, "1")
		}
		if ck != nil {
			req.AddCookie(ck)
		}
		return send(req).StatusCode
	}
	if s := get("/v1/services", false, nil); s != http.StatusOK {
		t.Errorf("a socket client: status %d, want 200", s)
	}
	for _, path := range []string{"/v1/services", "/ui/", "/v1/traffic", "/v1/events"} {
		if s := get(path, true, nil); s != http.StatusUnauthorized {
			t.Errorf("forwarded %s without a session: status %d, want 401", path, s)
		}
	}
	forwarded := func(r *http.Request) *http.Response {
		r.Header.Set(dashboard.ForwardedHeader, "1")
		return send(r)
	}
	ck, _ := browserSession(t, ts, "http://127.0.0.1:7071", forwarded)
	if s := get("/v1/services", true, ck); s != http.StatusOK {
		t.Errorf("forwarded with the session: status %d, want 200", s)
	}
	if s := get("/v1/traffic", true, ck); s != http.StatusNotFound {
		t.Errorf("traffic without a recorder: status %d, want 404", s)
	}
}
