package cli

import (
	"context"
	"path/filepath"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
)

// planTimeout bounds asking a running server for its config in validate.
const planTimeout = 3 * time.Second

// reloadPlanJSON is what validate reports about a reload of the file.
type reloadPlanJSON struct {
	Changes config.Changes `json:"changes"`
	// LiveRemoved lists removed services that serve a release: reload
	// refuses to remove them without --allow-remove.
	LiveRemoved []string `json:"live_removed,omitempty"`
}

// reloadPlan compares the file at path with the config of the running
// server; it returns nil when no server answers (validate needs none).
func (a *app) reloadPlan(ctx context.Context, path string) *reloadPlanJSON {
	ctx, cancel := context.WithTimeout(ctx, planTimeout)
	defer cancel()
	c, err := a.client()
	if err != nil {
		return nil
	}
	running, err := c.Config(ctx)
	if err != nil {
		return nil
	}
	// Load with the absolute path, as serve does, so that relative paths
	// in the file compare equal to the server's.
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil
	}
	next, err := config.Load(abs)
	if err != nil {
		return nil
	}
	plan := &reloadPlanJSON{Changes: config.Diff(running, next)}
	if len(plan.Changes.Removed) > 0 {
		if all, err := c.StatusAll(ctx); err == nil {
			removed := sliceSet(plan.Changes.Removed)
			for _, st := range all {
				if removed[st.Name] && (st.Active != nil || st.Candidate != nil) {
					plan.LiveRemoved = append(plan.LiveRemoved, st.Name)
				}
			}
		}
	}
	return plan
}

func sliceSet(items []string) map[string]bool {
	m := make(map[string]bool, len(items))
	for _, s := range items {
		m[s] = true
	}
	return m
}

// plural returns word, with an "s" unless n is 1.
func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
