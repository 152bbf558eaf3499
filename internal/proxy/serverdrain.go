package proxy

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// DrainIdleAfter is how long a client connection may stay idle during a
// drain before the server closes it. A client busy on a keep-alive
// connection sends its next request sooner and gets "Connection: close"
// with the answer, so no request of it meets a closed connection; only a
// connection idle this long is closed under its client.
const DrainIdleAfter = 500 * time.Millisecond

// serverDrainPoll is how often a drain looks for idle connections to
// close and for the last connection to end.
const serverDrainPoll = 20 * time.Millisecond

// endWhenDraining makes every HTTP/1 response end its connection once a
// drain began, and marks the connections that carry HTTP/2.
func (s *Server) endWhenDraining(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.ProtoMajor == 2:
			if tc, ok := r.Context().Value(connKey{}).(*clientConn); ok && !tc.h2.Load() {
				tc.markH2()
			}
		case s.draining.Load():
			w.Header()["Connection"] = connClose
		}
		h.ServeHTTP(w, r)
	})
}

// openHTTP1 returns the open connections of all listeners that do not
// carry HTTP/2.
func (s *Server) openHTTP1() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, l := range s.listeners {
		n += l.OpenHTTP1()
	}
	return n
}

// Drain stops accepting and lets the open connections end without failing
// a request: it closes this process's listening sockets (a copy held
// elsewhere, by a successor process or by systemd, goes on accepting and
// queueing), then every HTTP/1 response carries "Connection: close" and
// HTTP/1 connections idle for DrainIdleAfter are closed; a connection
// whose response was under way when the drain began serves its client's
// next request (closing after it) rather than being closed as the client
// sends. Once no HTTP/1 connection is left, the servers shut down
// gracefully: HTTP/2 connections get GOAWAY and their requests in flight
// finish. It returns when every connection has ended, or when ctx ends,
// closing what is left.
func (s *Server) Drain(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.draining.Store(true)
	listeners := append([]*clientListener(nil), s.listeners...)
	s.mu.Unlock()
	for _, l := range listeners {
		_ = l.Close()
	}
	tick := time.NewTicker(serverDrainPoll)
	defer tick.Stop()
	for s.openHTTP1() > 0 {
		for _, l := range listeners {
			l.closeIdleSince(time.Now().Add(-DrainIdleAfter))
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return errors.Join(ctx.Err(), s.Close())
		}
	}
	err := s.Shutdown(ctx)
	if err != nil {
		err = errors.Join(err, s.Close())
	}
	return err
}
