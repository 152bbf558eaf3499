package docker

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
)

// OwnerLabel returns a value for Options.InstanceLabel that identifies one
// cutover installation: the host name and a short hash of the absolute state
// directory, e.g. "web1-3fa2c81b". Two cutovers on one host with different
// state directories get different labels; a restarted cutover gets the same.
func OwnerLabel(stateDir string) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	if abs, err := filepath.Abs(stateDir); err == nil {
		stateDir = abs
	}
	sum := sha256.Sum256([]byte(filepath.Clean(stateDir)))
	return host + "-" + hex.EncodeToString(sum[:4])
}
