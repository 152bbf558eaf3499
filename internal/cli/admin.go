package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cutover-dev/cutover/internal/api"
	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/server"
)

// configFile returns the config path given by -c or $CUTOVER_CONFIG ("" = none).
func (a *app) configFile() string {
	if a.configPath != "" {
		return a.configPath
	}
	return a.getenv(envConfig)
}

// adminAddr returns the admin API address: --admin, else $CUTOVER_ADMIN,
// else the socket of the config file (-c or $CUTOVER_CONFIG), else the
// config package's default socket for this user. A socket that the
// running server recorded in its state dir wins over the one the file
// names (the file may have changed since the server started), and an
// invalid config file is read leniently for state_dir and admin.socket only,
// so that reload and status still reach the server.
func (a *app) adminAddr() (string, *config.Config, error) {
	if a.admin != "" {
		return a.admin, nil, nil
	}
	if v := a.getenv(envAdmin); v != "" {
		return v, nil, nil
	}
	if path := a.configFile(); path != "" {
		c, err := config.Load(path)
		if err == nil {
			return "unix://" + socketOf(config.Locations{StateDir: c.StateDir, Socket: c.Admin.Socket}), c, nil
		}
		if !errors.Is(err, config.ErrInvalid) {
			return "", nil, fmt.Errorf("find the admin socket: %w", err)
		}
		loc, err := config.ReadLocations(path)
		if err != nil {
			return "", nil, fmt.Errorf("find the admin socket: %w", err)
		}
		return "unix://" + socketOf(loc), nil, nil
	}
	var c config.Config
	c.ApplyDefaults()
	return "unix://" + socketOf(config.Locations{StateDir: c.StateDir}), nil, nil
}

// socketOf returns the admin socket for loc: the one a running server
// recorded in the state dir if it exists, else loc.Socket, else
// <state_dir>/admin.sock.
func socketOf(loc config.Locations) string {
	if b, err := os.ReadFile(filepath.Join(loc.StateDir, server.SocketRecord)); err == nil {
		if rec := strings.TrimSpace(string(b)); rec != "" {
			if fi, err := os.Stat(rec); err == nil && fi.Mode()&os.ModeSocket != 0 {
				return rec
			}
		}
	}
	if loc.Socket != "" {
		return loc.Socket
	}
	return filepath.Join(loc.StateDir, "admin.sock")
}

// client returns an admin API client for the resolved address. The token
// is --token, else $CUTOVER_TOKEN, else (for a TCP address) the token file
// of the config, if one is given.
func (a *app) client() (*api.Client, error) {
	addr, cfg, err := a.adminAddr()
	if err != nil {
		return nil, err
	}
	token := a.token
	if token == "" {
		token = a.getenv(envToken)
	}
	if token == "" && isTCP(addr) && cfg == nil && a.configFile() != "" {
		cfg, _ = config.Load(a.configFile())
	}
	if token == "" && isTCP(addr) && cfg != nil {
		token, _ = cfg.AdminToken(os.LookupEnv)
	}
	ca := a.adminCA
	if ca == "" {
		ca = a.getenv(envCA)
	}
	return api.NewClientWithOptions(addr, api.ClientOptions{Token: token, CAFile: ca})
}

func isTCP(addr string) bool {
	return strings.HasPrefix(addr, "http://") || strings.HasPrefix(addr, "https://")
}
