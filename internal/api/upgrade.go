package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// ErrUpgradeFailed reports an upgrade whose new process did not take over
// (it exited, or was not ready in time); the old one goes on serving.
var ErrUpgradeFailed = errors.New("upgrade failed")

// UpgradeBackend is a Backend that can replace its own process with a
// new binary (cutover serve). The upgrade endpoint answers 404
// (not_found) on a Backend that is not one.
type UpgradeBackend interface {
	// Upgrade starts binary ("" for the one the server runs from) with
	// the server's listening sockets and returns once it serves, or with
	// an error wrapping ErrUpgradeFailed (the old process goes on serving)
	// or deploy.ErrBusy (an operation runs).
	Upgrade(ctx context.Context, binary string) (UpgradeResult, error)
}

// UpgradeResult is how an upgrade went.
type UpgradeResult struct {
	// PID is the new process's pid; Previous the one it replaces.
	PID      int    `json:"pid"`
	Previous int    `json:"previous_pid"`
	Binary   string `json:"binary"`
	// Took is from the request to the new process serving.
	Took time.Duration `json:"took_ns"`
}

type upgradeBody struct {
	Binary string `json:"binary,omitempty"`
}

func (s *Server) upgrade(w http.ResponseWriter, r *http.Request) error {
	ub, ok := s.opts.Backend.(UpgradeBackend)
	if !ok {
		return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: "this server cannot upgrade itself (it was not started by cutover serve)"}
	}
	var b upgradeBody
	if err := decodeBody(w, r, &b, true); err != nil {
		return err
	}
	res, err := ub.Upgrade(r.Context(), b.Binary)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		OK bool `json:"ok"`
		UpgradeResult
	}{true, res})
	return nil
}

// Upgrade asks the server to replace its process with binary ("" for the
// one it runs from) and waits until the new process serves or the upgrade
// failed. It is not bounded by RequestTimeout, only by ctx.
func (c *Client) Upgrade(ctx context.Context, binary string) (UpgradeResult, error) {
	resp, err := c.send(ctx, c.stream, http.MethodPost, "/v1/upgrade", upgradeBody{Binary: binary})
	if err != nil {
		return UpgradeResult{}, err
	}
	defer resp.Body.Close()
	var out UpgradeResult
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return UpgradeResult{}, fmt.Errorf("read response of upgrade: %w", err)
	}
	return out, nil
}
