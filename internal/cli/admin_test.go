package cli

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/server"
)

func TestAdminAddressResolution(t *testing.T) {
	cfg := writeConfig(t, goodConfig)
	fromConfig := "unix://" + filepath.Join(filepath.Dir(cfg), "run", "admin.sock")
	var defaults config.Config
	defaults.ApplyDefaults()
	tests := []struct {
		name string
		flag string
		env  map[string]string
		cfg  string
		want string
	}{
		{"flag wins", "unix:///flag.sock", map[string]string{envAdmin: "unix:///env.sock", envConfig: cfg}, cfg, "unix:///flag.sock"},
		{"env over config", "", map[string]string{envAdmin: "http://127.0.0.1:7070"}, cfg, "http://127.0.0.1:7070"},
		{"config flag", "", nil, cfg, fromConfig},
		{"config env", "", map[string]string{envConfig: cfg}, "", fromConfig},
		{"default", "", nil, "", "unix://" + defaults.Admin.Socket},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &app{admin: tt.flag, configPath: tt.cfg, getenv: func(k string) string { return tt.env[k] }}
			got, _, err := a.adminAddr()
			if err != nil || got != tt.want {
				t.Fatalf("adminAddr = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	if !strings.HasSuffix(defaults.Admin.Socket, "/admin.sock") {
		t.Errorf("default socket %q", defaults.Admin.Socket)
	}
}

// TestAdminAddressFromInvalidConfig: a broken config still names the
// socket (state_dir and admin.socket are read leniently), and the socket a
// running server recorded in its state dir wins.
func TestAdminAddressFromInvalidConfig(t *testing.T) {
	bad := writeConfig(t, "state_dir: st\n"+badConfig+"    drian: 1\n")
	stateDir := filepath.Join(filepath.Dir(bad), "st")
	a := &app{configPath: bad, getenv: func(string) string { return "" }}
	got, _, err := a.adminAddr()
	if want := "unix://" + filepath.Join(stateDir, "admin.sock"); err != nil || got != want {
		t.Fatalf("adminAddr = %q, %v; want %q", got, err, want)
	}

	// A recorded socket that exists wins; one that does not is ignored.
	sock := filepath.Join(t.TempDir(), "elsewhere.sock")
	record := filepath.Join(stateDir, server.SocketRecord)
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(record, []byte(sock+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := a.adminAddr(); got != "unix://"+filepath.Join(stateDir, "admin.sock") {
		t.Errorf("with a stale record: %q", got)
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if got, _, _ := a.adminAddr(); got != "unix://"+sock {
		t.Errorf("with a live record: %q, want unix://%s", got, sock)
	}

	_, _, err = (&app{configPath: filepath.Join(stateDir, "missing.yaml"), getenv: func(string) string { return "" }}).adminAddr()
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing config: %v", err)
	}
}
