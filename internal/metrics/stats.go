package metrics

import "time"

// Stats is a snapshot of one service version over a window.
type Stats struct {
	Service, Version string
	From, To         time.Time
	// Requests counts completed requests including errors.
	Requests int64
	// Status1xx..Status5xx count responses by class (proxy-generated 502/503/504 count as 5xx).
	Status1xx, Status2xx, Status3xx, Status4xx, Status5xx int64
	// ConnErrors counts requests that failed to reach the upstream (also counted in Status5xx).
	ConnErrors int64
	// InFlight is the current in-flight gauge.
	InFlight int64
	// Latency is the latency histogram of completed requests.
	Latency Histogram
}

// ErrorRate returns Status5xx/Requests (0 when no requests).
func (s Stats) ErrorRate() float64 {
	if s.Requests == 0 {
		return 0
	}
	return float64(s.Status5xx) / float64(s.Requests)
}

// addClasses adds per-class counts (1xx..5xx) and their total to s.
func (s *Stats) addClasses(c [numClasses]int64) {
	s.Status1xx += c[0]
	s.Status2xx += c[1]
	s.Status3xx += c[2]
	s.Status4xx += c[3]
	s.Status5xx += c[4]
	s.Requests += c[0] + c[1] + c[2] + c[3] + c[4]
}
