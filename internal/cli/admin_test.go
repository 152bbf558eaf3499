package cli

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cutover-dev/cutover/internal/config"
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

func TestAdminAddressFromInvalidConfig(t *testing.T) {
	bad := writeConfig(t, badConfig)
	a := &app{configPath: bad, getenv: func(string) string { return "" }}
	_, _, err := a.adminAddr()
	if !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), "cutover validate -c "+bad) {
		t.Fatalf("err = %v", err)
	}
	if exitCodeOf(err) != ExitUsage {
		t.Errorf("exit code %d", exitCodeOf(err))
	}
}
