package metrics

// Totals returns the counters of service/version since its series was
// created, exact and never trimmed by Retention; From and To are zero and
// InFlight is the current gauge. An unknown series yields empty Stats.
//
// A reader that needs the traffic of a window longer than Retention, or of
// a window that must never slide (a canary's analysis, however long it is
// paused), takes Totals at the window's start and subtracts it later with
// Stats.Sub.
func (r *Registry) Totals(service, version string) Stats {
	st := Stats{Service: service, Version: version}
	s := r.lookup(service, version)
	if s == nil {
		return st
	}
	classes, conn, h := s.cumulative()
	var c [numClasses]int64
	for i, v := range classes {
		c[i] = int64(v)
	}
	st.addClasses(c)
	st.ConnErrors = int64(conn)
	st.Latency = h
	st.InFlight = s.InFlight()
	return st
}

// Sub returns the counts of s minus those of an earlier snapshot o of the
// same counters: the traffic between the two. A count that would turn
// negative (o is not earlier, or the series was recreated in between) is
// taken as s's own count, so a restarted series is read from its start.
// InFlight and the window bounds are s's.
func (s Stats) Sub(o Stats) Stats {
	if o.Requests > s.Requests || o.Latency.Total > s.Latency.Total {
		return s
	}
	d := s
	d.Requests -= o.Requests
	d.Status1xx -= o.Status1xx
	d.Status2xx -= o.Status2xx
	d.Status3xx -= o.Status3xx
	d.Status4xx -= o.Status4xx
	d.Status5xx -= o.Status5xx
	d.ConnErrors -= o.ConnErrors
	d.Latency.Total -= o.Latency.Total
	d.Latency.Sum -= o.Latency.Sum
	for i, c := range o.Latency.Counts {
		if c > d.Latency.Counts[i] {
			return s
		}
		d.Latency.Counts[i] -= c
	}
	if d.Status1xx < 0 || d.Status2xx < 0 || d.Status3xx < 0 || d.Status4xx < 0 || d.Status5xx < 0 || d.ConnErrors < 0 {
		return s
	}
	return d
}
