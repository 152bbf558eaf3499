package api

import (
	"testing"
	"time"
)

func TestAuthLimiterBucket(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newAuthLimiter(1, 5, func() time.Time { return now })
	for i := range 5 {
		if d := l.retryAfter("192.0.2.1"); d != 0 {
			t.Fatalf("failure %d: limited already (%v)", i+1, d)
		}
		l.fail("192.0.2.1")
	}
	if d := l.retryAfter("192.0.2.1"); d != time.Second {
		t.Fatalf("after 5 failures: retry after %v, want 1s", d)
	}
	if d := l.retryAfter("192.0.2.2"); d != 0 {
		t.Fatalf("another client is limited too: %v", d)
	}
	now = now.Add(400 * time.Millisecond)
	if d := l.retryAfter("192.0.2.1"); d != 600*time.Millisecond {
		t.Fatalf("0.4s later: retry after %v, want 600ms", d)
	}
	now = now.Add(600 * time.Millisecond)
	if d := l.retryAfter("192.0.2.1"); d != 0 {
		t.Fatalf("1s later: still limited (%v)", d)
	}
	l.fail("192.0.2.1") // one attempt per second, then limited again
	if d := l.retryAfter("192.0.2.1"); d != time.Second {
		t.Fatalf("after the next failure: retry after %v, want 1s", d)
	}
	now = now.Add(time.Minute)
	if d := l.retryAfter("192.0.2.1"); d != 0 {
		t.Fatalf("a minute later: %v", d)
	}
}

func TestAuthLimiterForgetsRefilledClients(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newAuthLimiter(1, 5, func() time.Time { return now })
	for i := range maxTrackedClients {
		l.fail(string(rune(i)))
	}
	now = now.Add(10 * time.Second)
	l.fail("new")
	if n := len(l.clients); n != 1 {
		t.Fatalf("tracked clients = %d, want 1 (the refilled ones forgotten)", n)
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "1", 300 * time.Millisecond: "1", time.Second: "1", 1500 * time.Millisecond: "2"} {
		if got := retryAfterSeconds(d); got != want {
			t.Errorf("retryAfterSeconds(%v) = %s, want %s", d, got, want)
		}
	}
}
