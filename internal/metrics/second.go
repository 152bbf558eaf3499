package metrics

import "time"

// SecondStart returns the start of the one-second slot that contains t.
// Slots are counted from the registry's creation, not from wall-clock
// seconds; a sampler steps from one slot to the next by adding a second.
func (r *Registry) SecondStart(t time.Time) time.Time {
	return r.clock.epoch.Add(time.Duration(r.clock.tick(t)) * time.Second)
}

// Second returns the stats of the one second that contains t (its
// one-second slot, see SecondStart), or empty Stats when that second is in
// the future, older than Retention, or has no observations. InFlight is
// the current gauge. Unlike Snapshot it does not depend on when it is
// called, so a sampler that reads each second once it is over sees every
// second exactly once.
func (s *Series) Second(t time.Time) Stats {
	sec := s.clock.tick(t)
	from := s.clock.epoch.Add(time.Duration(sec) * time.Second)
	hi := s.clock.tick(s.clock.now())
	if sec > hi || sec <= hi-int64(len(s.ring)) {
		return Stats{Service: s.service, Version: s.version, From: from, To: from.Add(time.Second), InFlight: s.inFlight.Load()}
	}
	return s.collect(from, from.Add(time.Second), sec, sec)
}

// Second returns the stats of service/version in the second that contains
// t (see Series.Second). An unknown series yields empty Stats.
func (r *Registry) Second(service, version string, t time.Time) Stats {
	if s := r.lookup(service, version); s != nil {
		return s.Second(t)
	}
	from := r.SecondStart(t)
	return Stats{Service: service, Version: version, From: from, To: from.Add(time.Second)}
}
