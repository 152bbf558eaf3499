package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"

	"github.com/cutover-dev/cutover/internal/deploy"
)

// EventStream reads events from GET /v1/events. It is not safe for
// concurrent use; Close may be called from any goroutine to end it.
type EventStream struct {
	ctx  context.Context
	body io.ReadCloser
	dec  *json.Decoder
	op   string
	done bool
}

// Events opens an event stream. With op set it replays that operation's
// events so far, follows it, and ends after its EventDone; otherwise it
// follows every operation of service (every service when service is "")
// until ctx is done or Close is called. The stream has no overall timeout.
func (c *Client) Events(ctx context.Context, service, op string) (*EventStream, error) {
	q := url.Values{}
	if service != "" {
		q.Set("service", service)
	}
	if op != "" {
		q.Set("op", op)
	}
	path := "/v1/events"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	resp, err := c.send(ctx, c.stream, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	return &EventStream{ctx: ctx, body: resp.Body, dec: json.NewDecoder(resp.Body), op: op}, nil
}

// Next returns the next event. After an operation's EventDone (when the
// stream follows one operation) it returns io.EOF. It returns ctx.Err()
// once the stream's context is done, and ErrStreamEnded when the server
// ends the stream otherwise (it shut down).
func (s *EventStream) Next() (deploy.Event, error) {
	if s.done {
		return deploy.Event{}, io.EOF
	}
	var ev deploy.Event
	err := s.dec.Decode(&ev)
	switch {
	case s.ctx.Err() != nil:
		return deploy.Event{}, s.ctx.Err()
	case err == nil:
		if s.op != "" && ev.Type == deploy.EventDone {
			s.done = true
		}
		return ev, nil
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return deploy.Event{}, ErrStreamEnded
	default:
		return deploy.Event{}, fmt.Errorf("read event stream: %w", err)
	}
}

// All returns an iterator over the remaining events. It stops after the
// last event of a followed operation; any other end is yielded once as an
// error (ctx.Err() or ErrStreamEnded, see Next).
func (s *EventStream) All() iter.Seq2[deploy.Event, error] {
	return func(yield func(deploy.Event, error) bool) {
		for {
			ev, err := s.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if !yield(ev, err) || err != nil {
				return
			}
		}
	}
}

// Close ends the stream and releases its connection.
func (s *EventStream) Close() error {
	return s.body.Close()
}
