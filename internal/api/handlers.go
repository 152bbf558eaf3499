package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/deploy"
	"github.com/cutover-dev/cutover/internal/store"
)

// Wire shapes of requests and responses.
type (
	healthResponse struct {
		Status string `json:"status"`
	}
	servicesResponse struct {
		Services []deploy.ServiceStatus `json:"services"`
	}
	historyResponse struct {
		Records []store.HistoryRecord `json:"records"`
	}
	opResponse struct {
		OpID string `json:"op_id"`
	}
	okResponse struct {
		OK bool `json:"ok"`
	}
	deployBody struct {
		Version  string   `json:"version"`
		Strategy string   `json:"strategy"`
		Targets  []string `json:"targets"`
		Force    bool     `json:"force"`
		Watch    string   `json:"watch"`
		// AllowLost is how many hosts may be lost during prepare.
		AllowLost int `json:"allow_lost"`
		// Batch is how many hosts a rolling fleet deploy takes at a time.
		Batch int `json:"batch"`
		// Allow lists migration lint rules the preflight lets through.
		Allow []string `json:"allow,omitempty"`
	}
	rollbackBody struct {
		To string `json:"to"`
		// Force goes below the rollback floor that contract migrations set.
		Force bool `json:"force,omitempty"`
	}
	weightBody struct {
		Percent *float64 `json:"percent"`
	}
	emptyBody  struct{}
	reloadBody struct {
		AllowRemove bool `json:"allow_remove"`
	}
	reloadResponse struct {
		OK      bool           `json:"ok"`
		Changes config.Changes `json:"changes"`
	}
)

func (s *Server) health(w http.ResponseWriter, _ *http.Request) error {
	writeJSON(w, http.StatusOK, healthResponse{Status: "ok"})
	return nil
}

func (s *Server) listServices(w http.ResponseWriter, r *http.Request) error {
	all, err := s.opts.Backend.StatusAll(r.Context())
	if err != nil {
		return err
	}
	if all == nil {
		all = []deploy.ServiceStatus{}
	}
	writeJSON(w, http.StatusOK, servicesResponse{Services: all})
	return nil
}

func (s *Server) getService(w http.ResponseWriter, r *http.Request) error {
	st, err := s.opts.Backend.Status(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (s *Server) history(w http.ResponseWriter, r *http.Request) error {
	limit := 0
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return invalidf("limit must be a whole number ≥ 0 (0 = all), not %q", v)
		}
		limit = n
	}
	recs, err := s.opts.Backend.History(r.Context(), r.PathValue("name"), limit)
	if err != nil {
		return err
	}
	if recs == nil {
		recs = []store.HistoryRecord{}
	}
	writeJSON(w, http.StatusOK, historyResponse{Records: recs})
	return nil
}

func (s *Server) deploy(w http.ResponseWriter, r *http.Request) error {
	var b deployBody
	if err := decodeBody(w, r, &b, false); err != nil {
		return err
	}
	if b.Version == "" {
		return invalidf(`field "version" is required, e.g. {"version":"v2"}`)
	}
	if b.AllowLost < 0 {
		return invalidf(`field "allow_lost" must be 0 or more, not %d`, b.AllowLost)
	}
	if b.Batch < 0 {
		return invalidf(`field "batch" must be 1 or more hosts (0: the default, 1), not %d`, b.Batch)
	}
	if b.Watch != "" {
		if d, err := time.ParseDuration(b.Watch); err != nil || d < 0 {
			return invalidf(`field "watch" must be a duration such as "30s", not %q`, b.Watch)
		}
	}
	id, err := s.opts.Backend.Deploy(r.Context(), deploy.DeployRequest{
		Service: r.PathValue("name"), Version: b.Version, Strategy: b.Strategy, Targets: b.Targets, Force: b.Force,
		Watch: b.Watch, AllowLost: b.AllowLost, Batch: b.Batch, Allow: b.Allow,
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, opResponse{OpID: id})
	return nil
}

func (s *Server) rollback(w http.ResponseWriter, r *http.Request) error {
	var b rollbackBody
	if err := decodeBody(w, r, &b, true); err != nil {
		return err
	}
	id, err := s.opts.Backend.Rollback(r.Context(), deploy.RollbackRequest{Service: r.PathValue("name"), To: b.To, Force: b.Force})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, opResponse{OpID: id})
	return nil
}

// control serves an action without parameters (promote, abort, pause, resume).
func (s *Server) control(act func(Backend, context.Context, string) error) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := decodeBody(w, r, &emptyBody{}, true); err != nil {
			return err
		}
		if err := act(s.opts.Backend, r.Context(), r.PathValue("name")); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, okResponse{OK: true})
		return nil
	}
}

func (s *Server) setWeight(w http.ResponseWriter, r *http.Request) error {
	var b weightBody
	if err := decodeBody(w, r, &b, false); err != nil {
		return err
	}
	if b.Percent == nil {
		return invalidf(`field "percent" is required, a number from 0 to 100, e.g. {"percent":25}`)
	}
	if p := *b.Percent; p < 0 || p > 100 {
		return invalidf(`field "percent" must be from 0 to 100, not %v`, p)
	}
	if err := s.opts.Backend.SetWeight(r.Context(), r.PathValue("name"), *b.Percent); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, okResponse{OK: true})
	return nil
}

func (s *Server) reload(w http.ResponseWriter, r *http.Request) error {
	var b reloadBody
	if err := decodeBody(w, r, &b, true); err != nil {
		return err
	}
	ch, err := s.opts.Backend.Reload(r.Context(), deploy.ReloadOptions{AllowRemove: b.AllowRemove})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, reloadResponse{OK: true, Changes: ch})
	return nil
}

func (s *Server) getConfig(w http.ResponseWriter, r *http.Request) error {
	c, err := s.opts.Backend.Config(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request) error {
	if s.opts.Metrics == nil {
		return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: "metrics are not enabled"}
	}
	s.opts.Metrics.ServeHTTP(w, r)
	return nil
}
