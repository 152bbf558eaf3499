package coord

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// SessionOptions configures a Session.
type SessionOptions struct {
	// Interval is how often the lease is renewed (default TTL/3).
	Interval time.Duration
	// Logger receives renewal failures (default slog.Default()).
	Logger *slog.Logger
}

// Session keeps one lease alive. It knows a conservative bound of the
// lease's life: ValidUntil is the time the last successful renewal was
// sent plus the TTL the store granted, and the store never expires the
// lease before that. A holder that stops acting once Live is false never
// acts on a lease the store may already have expired. Its methods are safe
// for concurrent use.
type Session struct {
	st       Store
	id       LeaseID
	ttl      time.Duration
	interval time.Duration
	log      *slog.Logger

	mu         sync.Mutex
	validUntil time.Time

	done      chan struct{}
	doneOnce  sync.Once
	stop      context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// NewSession grants a lease of ttl and keeps renewing it until Close or
// until the store reports it gone.
func NewSession(ctx context.Context, st Store, ttl time.Duration, opts SessionOptions) (*Session, error) {
	if ttl <= 0 {
		return nil, fmt.Errorf("session: ttl %s must be positive", ttl)
	}
	if opts.Interval <= 0 {
		opts.Interval = ttl / 3
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	sent := time.Now()
	id, err := st.Grant(ctx, ttl)
	if err != nil {
		return nil, err
	}
	lctx, stop := context.WithCancel(context.Background())
	s := &Session{
		st: st, id: id, ttl: ttl, interval: opts.Interval, log: opts.Logger,
		validUntil: sent.Add(ttl), done: make(chan struct{}), stop: stop,
	}
	s.wg.Go(func() { s.loop(lctx) })
	return s, nil
}

// Lease returns the session's lease.
func (s *Session) Lease() LeaseID { return s.id }

// TTL returns the lease's TTL.
func (s *Session) TTL() time.Duration { return s.ttl }

// ValidUntil returns the earliest time the store may expire the lease.
func (s *Session) ValidUntil() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.validUntil
}

// Live reports whether the lease is certainly alive now.
func (s *Session) Live() bool {
	select {
	case <-s.done:
		return false
	default:
	}
	return time.Now().Before(s.ValidUntil())
}

// Done is closed once the lease is known gone (expired or revoked) or the
// session is closed.
func (s *Session) Done() <-chan struct{} { return s.done }

func (s *Session) end() { s.doneOnce.Do(func() { close(s.done) }) }

func (s *Session) loop(ctx context.Context) {
	wait := s.interval
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		sent := time.Now()
		rctx, cancel := context.WithTimeout(ctx, s.interval)
		ttl, err := s.st.KeepAliveOnce(rctx, s.id)
		cancel()
		switch {
		case err == nil:
			s.mu.Lock()
			s.validUntil = sent.Add(ttl)
			s.mu.Unlock()
			wait = s.interval
		case errors.Is(err, ErrLeaseNotFound):
			s.log.Warn("lease lost", "lease", int64(s.id))
			s.end()
			return
		case ctx.Err() != nil:
			return
		default:
			s.log.Warn("lease renewal failed; retrying", "lease", int64(s.id), "err", err)
			wait = s.interval / 2
		}
	}
}

// Close stops renewing and revokes the lease (bounded by a short
// timeout), deleting the keys attached to it. It is idempotent.
func (s *Session) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.stop()
		s.wg.Wait()
		s.end()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		err = s.st.Revoke(ctx, s.id)
	})
	return err
}
