package docker

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Labels cutover sets on every container it starts. User labels may not use
// the "cutover." prefix.
const (
	LabelService  = "cutover.service"
	LabelVersion  = "cutover.version"
	LabelInstance = "cutover.instance"
	LabelOwner    = "cutover.owner"
	LabelPort     = "cutover.port"
	LabelAddr     = "cutover.addr"

	reservedLabelPrefix = "cutover."
)

// maxVersionInName bounds the version part of a container name.
const maxVersionInName = 40

// containerName returns cutover-<service>-<version>-<short id>, with every
// character Docker does not allow in names replaced by "_".
func containerName(service, version, instanceID string) string {
	v := sanitizeName(version)
	if len(v) > maxVersionInName {
		v = v[:maxVersionInName]
	}
	return "cutover-" + sanitizeName(service) + "-" + v + "-" + shortID(service, version, instanceID)
}

// shortID is the part of the instance id that follows "<service>-<version>-"
// when the id has that form and the rest is short, else a hash of the id.
func shortID(service, version, instanceID string) string {
	rest := strings.TrimPrefix(instanceID, service+"-"+version+"-")
	if rest != instanceID && rest != "" && len(rest) <= 12 && sanitizeName(rest) == rest {
		return rest
	}
	sum := sha256.Sum256([]byte(instanceID))
	return hex.EncodeToString(sum[:6])
}

// sanitizeName keeps [A-Za-z0-9_.-] and replaces anything else with "_".
func sanitizeName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
			return r
		}
		return '_'
	}, s)
}
