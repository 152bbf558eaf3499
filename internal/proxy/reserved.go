package proxy

import "net/http"

// reserved is a path the proxy answers itself, on every host name, ahead
// of the routing table.
type reserved struct {
	path string
	h    http.Handler
}

// SetReserved makes h answer requests for exactly path on every host name
// before any route is looked up (the fleet's load-balancer ready endpoint).
// Such requests are not logged, counted in metrics, or forwarded. A nil h
// removes the reservation. It is safe to call while serving.
func (p *Proxy) SetReserved(path string, h http.Handler) {
	if h == nil {
		p.reserved.Store(nil)
		return
	}
	p.reserved.Store(&reserved{path: path, h: h})
}
