package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestBodyIs100BytesAndNamesBackend(t *testing.T) {
	for _, name := range []string{"v1", "v2", "blue"} {
		b, err := Body(name)
		if err != nil {
			t.Fatalf("Body(%q): %v", name, err)
		}
		if len(b) != responseSize {
			t.Errorf("Body(%q) has %d bytes, want %d", name, len(b), responseSize)
		}
		if !strings.HasPrefix(string(b), "backend="+name+" ") {
			t.Errorf("Body(%q) = %q, want backend name first", name, b)
		}
	}
	if _, err := Body(strings.Repeat("x", 200)); err == nil {
		t.Error("Body accepted a name longer than the response")
	}
}

func TestHandlerServesBodyForPost(t *testing.T) {
	body, err := Body("v2")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(Handler(body))
	defer srv.Close()
	resp, err := http.Post(srv.URL, "text/plain", strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || string(got) != string(body) {
		t.Errorf("got %d %q, want 200 %q", resp.StatusCode, got, body)
	}
	if resp.ContentLength != responseSize {
		t.Errorf("Content-Length %d, want %d", resp.ContentLength, responseSize)
	}
}
