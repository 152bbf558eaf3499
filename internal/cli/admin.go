package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/cutover-dev/cutover/internal/api"
	"github.com/cutover-dev/cutover/internal/config"
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
// config package's default socket for this user.
func (a *app) adminAddr() (string, *config.Config, error) {
	if a.admin != "" {
		return a.admin, nil, nil
	}
	if v := a.getenv(envAdmin); v != "" {
		return v, nil, nil
	}
	if path := a.configFile(); path != "" {
		c, err := config.Load(path)
		if errors.Is(err, config.ErrInvalid) {
			return "", nil, fmt.Errorf("find the admin socket: %s is invalid (see 'cutover validate -c %s'): %w",
				path, path, config.ErrInvalid)
		}
		if err != nil {
			return "", nil, fmt.Errorf("find the admin socket: %w", err)
		}
		return "unix://" + c.Admin.Socket, c, nil
	}
	var c config.Config
	c.ApplyDefaults()
	return "unix://" + c.Admin.Socket, nil, nil
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
	return api.NewClient(addr, token)
}

func isTCP(addr string) bool {
	return strings.HasPrefix(addr, "http://") || strings.HasPrefix(addr, "https://")
}
