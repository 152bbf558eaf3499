package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"
)

// DefaultLogLines is how many last lines of an instance's output the logs
// endpoint shows when the request does not say.
const DefaultLogLines = 100

// Errors of the logs endpoint.
var (
	// ErrNoInstance reports that the service has no instance matching a
	// logs request (no such version or instance id).
	ErrNoInstance = errors.New("no such instance")
	// ErrNotSupported reports a request the instance's runtime cannot serve,
	// such as following a container's log.
	ErrNotSupported = errors.New("not supported")
)

// LogsRequest selects the instance whose output LogBackend.Logs writes.
type LogsRequest struct {
	// Service names the service. Required.
	Service string
	// Version selects the release: "" picks the active one (else the
	// candidate, else the standby).
	Version string
	// Instance is an instance id; "" picks the version's first instance.
	Instance string
	// Lines is how many last lines to write first: 0 none, < 0 all.
	Lines int
	// Follow keeps writing what the instance appends until ctx is done.
	Follow bool
}

// LogBackend is implemented by a Backend that can show what an instance
// wrote to its standard output and error. Without it the logs endpoint
// answers 501. Logs must return before writing anything when it fails to
// find the instance (ErrNoInstance, deploy.ErrUnknownService) or cannot
// serve the request (ErrNotSupported); with Follow it returns when ctx is
// done. It must be safe for concurrent use.
type LogBackend interface {
	Logs(ctx context.Context, req LogsRequest, w io.Writer) error
}

// logs serves GET /v1/services/{name}/logs?version=V&instance=ID&lines=N&follow=1
// as text/plain, flushed after every write.
func (s *Server) logs(w http.ResponseWriter, r *http.Request) error {
	lb, ok := s.opts.Backend.(LogBackend)
	if !ok {
		return &Error{Status: http.StatusNotImplemented, Code: CodeNotSupported, Message: "this server cannot show instance logs"}
	}
	q := r.URL.Query()
	req := LogsRequest{Service: r.PathValue("name"), Version: q.Get("version"), Instance: q.Get("instance"),
		Lines: DefaultLogLines}
	if v := q.Get("lines"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return invalidf("lines must be a whole number (0 = none, -1 = all), not %q", v)
		}
		req.Lines = n
	}
	if v := q.Get("follow"); v != "" {
		f, err := strconv.ParseBool(v)
		if err != nil {
			return invalidf("follow must be true or false, not %q", v)
		}
		req.Follow = f
	}
	fw := &flushWriter{w: w, rc: http.NewResponseController(w)}
	err := lb.Logs(r.Context(), req, fw)
	if err == nil || r.Context().Err() != nil {
		if !fw.started {
			fw.start()
		}
		return nil
	}
	if fw.started {
		s.log.Warn("instance log stream ended", "service", req.Service, "err", err)
		return nil
	}
	return err
}

// flushWriter writes a text/plain response, flushing after every write
// with a bounded write time, so that a client that stops reading cannot
// hold the stream.
type flushWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	started bool
}

func (f *flushWriter) start() {
	f.started = true
	f.w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	f.w.Header().Set("Cache-Control", "no-store")
	f.w.Header().Set("X-Content-Type-Options", "nosniff")
	f.w.WriteHeader(http.StatusOK)
	_ = f.rc.Flush()
}

// Write writes p and flushes it.
func (f *flushWriter) Write(p []byte) (int, error) {
	if !f.started {
		f.start()
	}
	_ = f.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
	n, err := f.w.Write(p)
	if err == nil {
		err = f.rc.Flush()
	}
	return n, err
}
