package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/cutover-dev/cutover/internal/deploy"
)

// streamWriteTimeout bounds one write to an event stream, so a client that
// stops reading cannot hold the stream open forever.
const streamWriteTimeout = 30 * time.Second

// events streams deploy events as NDJSON: one event per line, flushed as it
// happens, a blank line after each idle heartbeat interval. With op set the
// stream ends after that operation's EventDone; otherwise it follows until
// the client leaves or the server closes.
func (s *Server) events(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	service, op := q.Get("service"), q.Get("op")
	ch, cancel, err := s.opts.Backend.Subscribe(service, op)
	if err != nil {
		return err
	}
	defer cancel()

	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if rc.Flush() != nil {
		return nil
	}
	heartbeat := time.NewTicker(s.opts.Heartbeat)
	defer heartbeat.Stop()
	enc := json.NewEncoder(w)
	send := func(write func() error) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		return write() == nil && rc.Flush() == nil
	}
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-heartbeat.C:
			if !send(func() error { _, err := w.Write([]byte("\n")); return err }) {
				return nil
			}
		case ev, ok := <-ch:
			if !ok {
				return nil
			}
			if !send(func() error { return enc.Encode(ev) }) {
				return nil
			}
			if op != "" && ev.Type == deploy.EventDone {
				return nil
			}
			heartbeat.Reset(s.opts.Heartbeat)
		}
	}
}
