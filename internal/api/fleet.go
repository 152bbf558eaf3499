package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/cutover-dev/cutover/internal/deploy"
	"github.com/cutover-dev/cutover/internal/fleet"
)

// FleetBackend is a Backend that is a member of a fleet. The fleet
// endpoints answer 404 (not_found) on a Backend that is not one.
type FleetBackend interface {
	// Fleet returns every host of the fleet as this host sees it.
	Fleet(ctx context.Context) (fleet.Status, error)
	// RemoveHost takes a host out of the fleet.
	RemoveHost(ctx context.Context, name string) error
}

func (s *Server) fleetBackend() (FleetBackend, error) {
	fb, ok := s.opts.Backend.(FleetBackend)
	if !ok {
		return nil, fmt.Errorf("%w: this server is not part of a fleet", deploy.ErrUnknownService)
	}
	return fb, nil
}

func (s *Server) getFleet(w http.ResponseWriter, r *http.Request) error {
	fb, err := s.fleetBackend()
	if err != nil {
		return err
	}
	st, err := fb.Fleet(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (s *Server) removeHost(w http.ResponseWriter, r *http.Request) error {
	fb, err := s.fleetBackend()
	if err != nil {
		return err
	}
	if err := fb.RemoveHost(r.Context(), r.PathValue("host")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, okResponse{OK: true})
	return nil
}

// Fleet returns every host of the fleet as the server sees it.
func (c *Client) Fleet(ctx context.Context) (fleet.Status, error) {
	var st fleet.Status
	err := c.do(ctx, http.MethodGet, "/v1/fleet", nil, &st)
	return st, err
}

// RemoveHost takes a host out of the fleet.
func (c *Client) RemoveHost(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/v1/fleet/hosts/"+name, nil, nil)
}
