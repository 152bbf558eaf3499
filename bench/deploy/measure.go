package main

import "sort"

// crossing is where, in a window of probe records, traffic moved to a
// version for good.
type crossing struct {
	// lastOld is the send time of the last request in the window that did
	// not get the wanted version (0 if none did not).
	lastOld int64
	// allNew is the send time of the request after lastOld: from it on,
	// every request sent got the wanted version. 0 if the window never
	// settled on the version.
	allNew int64
	// requests and failures count the window's requests and those that
	// failed (transport error or non-200).
	requests, failures int
}

// findCrossing scans recs (sorted by send time) sent in [from, to) for the
// moment after which every request got want.
func findCrossing(recs []record, from, to int64, want string) crossing {
	lo := sort.Search(len(recs), func(i int) bool { return recs[i].send >= from })
	hi := sort.Search(len(recs), func(i int) bool { return recs[i].send >= to })
	w := recs[lo:hi]
	var c crossing
	c.requests = len(w)
	last := -1
	for i, r := range w {
		if !r.ok {
			c.failures++
		}
		if !r.ok || r.version != want {
			last = i
		}
	}
	switch {
	case len(w) == 0 || last == len(w)-1:
		// Never settled on want within the window.
	case last < 0:
		c.allNew = w[0].send // already switched when the window began
	default:
		c.lastOld, c.allNew = w[last].send, w[last+1].send
	}
	return c
}
