package dashboard

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// login exchanges code at /ui/login and returns the response.
func login(s *Sessions, code string) *http.Response {
	rec := httptest.NewRecorder()
	s.Login(rec, httptest.NewRequest("GET", "http://127.0.0.1:7070/ui/login?code="+code, nil))
	return rec.Result()
}

func TestLoginCodeWorksOnceAndExpires(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	s := NewSessions(SessionOptions{Now: c.now})
	code, exp := s.NewCode()
	if want := c.now().Add(DefaultCodeTTL); !exp.Equal(want) {
		t.Errorf("code expires %v, want %v", exp, want)
	}
	resp := login(s, code)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/" {
		t.Fatalf("login: %d to %q, want 303 to /ui/", resp.StatusCode, resp.Header.Get("Location"))
	}
	ck := resp.Cookies()
	if len(ck) != 1 || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteStrictMode || ck[0].Path != "/" {
		t.Fatalf("cookies %+v, want one HttpOnly SameSite=Strict cookie for /", ck)
	}
	if again := login(s, code); again.StatusCode != http.StatusUnauthorized || len(again.Cookies()) != 0 {
		t.Errorf("second use of a code: %d with cookies %v, want 401 and none", again.StatusCode, again.Cookies())
	}
	late, _ := s.NewCode()
	c.advance(DefaultCodeTTL + time.Second)
	if resp := login(s, late); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("an expired code: %d, want 401", resp.StatusCode)
	}
	req := httptest.NewRequest("GET", "http://127.0.0.1:7070/v1/services", nil)
	req.AddCookie(ck[0])
	if err := s.Check(req); err != nil {
		t.Errorf("a GET with the session: %v", err)
	}
	c.advance(DefaultSessionTTL)
	if err := s.Check(req); !errors.Is(err, ErrNoSession) {
		t.Errorf("a GET after the session's end: %v, want ErrNoSession", err)
	}
}

func TestCheckRefusesCrossSiteChanges(t *testing.T) {
	s := NewSessions(SessionOptions{})
	code, _ := s.NewCode()
	ck := login(s, code).Cookies()[0]
	probe := httptest.NewRequest("GET", "http://127.0.0.1:7070/ui/session", nil)
	probe.AddCookie(ck)
	csrf, _, ok := s.Info(probe)
	if !ok || csrf == "" {
		t.Fatal("no CSRF token for the session")
	}
	for _, tc := range []struct {
		name    string
		cookie  bool
		headers map[string]string
		want    error
	}{
		{"no cookie", false, map[string]string{CSRFHeader: csrf}, ErrNoSession},
		{"no csrf token", true, nil, ErrCrossSite},
		{"wrong csrf token", true, map[string]string{CSRFHeader: "x" + csrf[1:]}, ErrCrossSite},
		{"other origin", true, map[string]string{CSRFHeader: csrf, "Origin": "http://evil.example"}, ErrCrossSite},
		{"other port", true, map[string]string{CSRFHeader: csrf, "Origin": "http://127.0.0.1:8080"}, ErrCrossSite},
		{"cross-site fetch", true, map[string]string{CSRFHeader: csrf, "Sec-Fetch-Site": "cross-site"}, ErrCrossSite},
		{"same origin", true, map[string]string{CSRFHeader: csrf, "Origin": "http://127.0.0.1:7070", "Sec-Fetch-Site": "same-origin"}, nil},
		{"no origin sent", true, map[string]string{CSRFHeader: csrf}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "http://127.0.0.1:7070/v1/services/web/rollback", nil)
			if tc.cookie {
				r.AddCookie(ck)
			}
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			if err := s.Check(r); !errors.Is(err, tc.want) {
				t.Errorf("Check = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSessionsAreBounded(t *testing.T) {
	s := NewSessions(SessionOptions{})
	for range maxCodes + 10 {
		s.NewCode()
	}
	for range maxSessions + 10 {
		code, _ := s.NewCode()
		if resp := login(s, code); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("login: %d", resp.StatusCode)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.codes) > maxCodes || len(s.sessions) > maxSessions {
		t.Errorf("%d codes and %d sessions kept, want at most %d and %d", len(s.codes), len(s.sessions), maxCodes, maxSessions)
	}
}
