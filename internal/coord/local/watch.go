package local

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/cutover-dev/cutover/internal/coord"
)

// watcher delivers one watch's events through its own goroutine, so a
// slow reader never blocks a writer; one that falls History events behind
// is ended with ErrCompacted.
type watcher struct {
	prefix string
	limit  int
	out    chan coord.WatchResponse

	mu      sync.Mutex
	queue   []coord.WatchResponse
	pending int
	err     error
	wake    chan struct{}
}

func (w *watcher) offer(re revEvents) {
	var evs []coord.Event
	for _, e := range re.events {
		if strings.HasPrefix(e.KV.Key, w.prefix) {
			evs = append(evs, e)
		}
	}
	if len(evs) == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return
	}
	w.queue = append(w.queue, coord.WatchResponse{Events: evs, Revision: re.rev})
	w.pending += len(evs)
	if w.pending > w.limit {
		w.queue = nil
		w.err = fmt.Errorf("%w: the watcher fell %d events behind", coord.ErrCompacted, w.pending)
	}
	w.signal()
}

func (w *watcher) end(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
	}
	w.signal()
}

func (w *watcher) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// run delivers queued responses until the watch ends.
func (w *watcher) run(ctx context.Context, s *Store) {
	defer close(w.out)
	defer func() {
		s.mu.Lock()
		if s.watchers != nil {
			delete(s.watchers, w)
		}
		s.mu.Unlock()
	}()
	for {
		w.mu.Lock()
		var next *coord.WatchResponse
		if len(w.queue) > 0 {
			r := w.queue[0]
			w.queue = w.queue[1:]
			w.pending -= len(r.Events)
			next = &r
		}
		err := w.err
		w.mu.Unlock()
		if next != nil {
			select {
			case w.out <- *next:
			case <-ctx.Done():
				w.out <- coord.WatchResponse{Err: ctx.Err()}
				return
			}
			continue
		}
		if err != nil {
			w.out <- coord.WatchResponse{Err: err}
			return
		}
		select {
		case <-w.wake:
		case <-ctx.Done():
			w.out <- coord.WatchResponse{Err: ctx.Err()}
			return
		}
	}
}

// Watch implements coord.Store.
func (s *Store) Watch(ctx context.Context, prefix string, fromRev int64) <-chan coord.WatchResponse {
	w := &watcher{prefix: prefix, limit: s.opts.History, out: make(chan coord.WatchResponse, 1), wake: make(chan struct{}, 1)}
	s.mu.Lock()
	switch {
	case s.closed:
		w.err = coord.ErrClosed
	case fromRev > 0 && fromRev <= s.rev && fromRev < s.oldestKept():
		w.err = fmt.Errorf("%w: revision %d (oldest kept %d)", coord.ErrCompacted, fromRev, s.oldestKept())
	default:
		if fromRev > 0 {
			for _, re := range s.events {
				if re.rev >= fromRev {
					w.offer(re)
				}
			}
		}
		if w.err == nil {
			s.watchers[w] = struct{}{}
		}
	}
	s.mu.Unlock()
	go w.run(ctx, s)
	return w.out
}
