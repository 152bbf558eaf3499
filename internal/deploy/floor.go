package deploy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/cutover-dev/cutover/internal/store"
)

// Floor is a service's rollback floor: after contract migrations dropped or
// renamed what older versions use, a rollback to a version older than
// Version would break. It is written by cutover migrate contract.
type Floor struct {
	// Version was active when the contract migrations ran.
	Version string `json:"version"`
	// Since is when they ran.
	Since time.Time `json:"since"`
	// Migrations are the contract migrations' versions.
	Migrations []string `json:"migrations"`
}

// FloorPath is where a service's rollback floor is kept under the state dir.
func FloorPath(stateDir, service string) string {
	return filepath.Join(stateDir, "migrations", service+".floor.json")
}

// WriteFloor records a service's rollback floor (atomically: a rename).
func WriteFloor(stateDir, service string, f Floor) error {
	path := FloorPath(stateDir, service)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ReadFloor returns a service's rollback floor, or nil when it has none.
func ReadFloor(stateDir, service string) (*Floor, error) {
	b, err := os.ReadFile(FloorPath(stateDir, service))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var f Floor
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", FloorPath(stateDir, service), err)
	}
	return &f, nil
}

// CheckRollbackFloor refuses a rollback below the service's rollback floor
// unless req.Force, as a rollback by this controller does; a fleet's
// rollback checks it before it plans.
func (c *Controller) CheckRollbackFloor(req RollbackRequest) error {
	s, err := c.service(req.Service)
	if err != nil {
		return err
	}
	st := s.state()
	target, _ := rollbackTarget(st, req.To)
	if target == "" {
		return nil
	}
	return s.checkFloor(st, target, req.Force)
}

// checkFloor refuses a rollback to a version below the service's floor:
// one the service ran only before the floor's version (Versions lists the
// previous versions newest first), or one it does not know. force lets it
// through.
func (s *service) checkFloor(st store.ServiceState, target string, force bool) error {
	f, err := ReadFloor(s.c.opts.Config.StateDir, s.name)
	if err != nil || f == nil || force || target == f.Version {
		return err
	}
	if st.Active == nil || st.Active.Version != f.Version {
		// Versions newer than the floor's are listed before it.
		if i := slices.Index(st.Versions, f.Version); i >= 0 && slices.Contains(st.Versions[:i], target) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s is below the rollback floor of %s: contract migrations %v ran on %s while %s was active, and older versions may use what they removed; "+
		"roll back to %s or newer, or pass --force if %s works with the schema",
		ErrNothingToRollBack, target, s.name, f.Migrations, f.Since.Format(time.DateTime), f.Version, f.Version, target)
}
