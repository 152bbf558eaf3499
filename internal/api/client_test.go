package api_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cutover-dev/cutover/internal/api"
)

func TestUnreachable(t *testing.T) {
	c := newClient(t, "unix://"+filepath.Join(shortDir(t), "none.sock"), "")
	err := c.Health(t.Context())
	if !errors.Is(err, api.ErrUnreachable) {
		t.Fatalf("err = %v, want ErrUnreachable", err)
	}
	if !strings.Contains(err.Error(), "none.sock") {
		t.Errorf("error %q does not name the address", err)
	}
}

func TestNewClientAddresses(t *testing.T) {
	for _, ok := range []string{"unix:///run/cutover/admin.sock", "/run/admin.sock", "./admin.sock",
		"http://127.0.0.1:7070", "https://admin.example.com:7070"} {
		if _, err := api.NewClient(ok, ""); err != nil {
			t.Errorf("NewClient(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "unix://", "127.0.0.1:7070", "ftp://x", "http://x/v1"} {
		if _, err := api.NewClient(bad, ""); !errors.Is(err, api.ErrBadAddress) {
			t.Errorf("NewClient(%q) = %v, want ErrBadAddress", bad, err)
		}
	}
}
