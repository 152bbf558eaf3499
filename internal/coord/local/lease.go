package local

import (
	"context"
	"fmt"
	"time"

	"github.com/cutover-dev/cutover/internal/coord"
)

// Grant implements coord.Store.
func (s *Store) Grant(ctx context.Context, ttl time.Duration) (coord.LeaseID, error) {
	if ttl <= 0 {
		return 0, fmt.Errorf("lease ttl %s must be positive", ttl)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	id := s.nextID
	s.nextID++
	s.leases[id] = &lease{ttl: ttl, expires: time.Now().Add(ttl), keys: map[string]bool{}}
	s.armReaperLocked()
	return id, nil
}

// KeepAliveOnce implements coord.Store.
func (s *Store) KeepAliveOnce(ctx context.Context, id coord.LeaseID) (time.Duration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	l, ok := s.leases[id]
	if !ok || !time.Now().Before(l.expires) {
		return 0, fmt.Errorf("%w: lease %d", coord.ErrLeaseNotFound, id)
	}
	l.expires = time.Now().Add(l.ttl)
	s.armReaperLocked()
	return l.ttl, nil
}

// Revoke implements coord.Store.
func (s *Store) Revoke(ctx context.Context, id coord.LeaseID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return err
	}
	return s.dropLeaseLocked(id)
}

// dropLeaseLocked deletes a lease and its keys in one revision.
func (s *Store) dropLeaseLocked(id coord.LeaseID) error {
	l, ok := s.leases[id]
	if !ok {
		return nil
	}
	ops := make([]coord.Op, 0, len(l.keys))
	for k := range l.keys {
		ops = append(ops, coord.Delete(k))
	}
	if err := s.apply(ops); err != nil {
		return err
	}
	delete(s.leases, id)
	return nil
}

// armReaperLocked schedules the next lease expiry.
func (s *Store) armReaperLocked() {
	var next time.Time
	for _, l := range s.leases {
		if next.IsZero() || l.expires.Before(next) {
			next = l.expires
		}
	}
	if s.reaper != nil {
		s.reaper.Stop()
		s.reaper = nil
	}
	if next.IsZero() || s.closed {
		return
	}
	s.reaper = time.AfterFunc(time.Until(next), s.reap)
}

// reap expires the leases whose time has come.
func (s *Store) reap() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	now := time.Now()
	for id, l := range s.leases {
		if !now.Before(l.expires) {
			_ = s.dropLeaseLocked(id)
		}
	}
	s.armReaperLocked()
}
