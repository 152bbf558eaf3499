package proxy

import "slices"

// TargetInfo describes one target for status reports.
type TargetInfo struct {
	ID   string
	Addr string
	// Healthy is the health checker's last verdict (true until told otherwise).
	Healthy bool
	// Ejected is set after the target refused a connection, until it is
	// reported healthy again.
	Ejected bool
	// Draining is set once Drain was called for the target.
	Draining bool
	// InFlight is the number of requests in flight on the target.
	InFlight int64
}

// SetInfo describes one target set.
type SetInfo struct {
	Version string
	Targets []TargetInfo
	// FailOpen is set when no target of the set is healthy and the proxy
	// keeps sending to them anyway.
	FailOpen bool
}

// ServiceInfo describes one service of the routing table.
type ServiceInfo struct {
	Name        string
	Hosts       []string
	PathPrefix  string
	StripPrefix bool
	Balance     Balance
	Active      SetInfo
	// Candidate is nil when the service has no candidate set.
	Candidate *SetInfo
	// Weight is the percentage of users sent to the candidate set.
	Weight float64
	// FailOpen is set when any set of the service is failing open.
	FailOpen bool
}

// Services returns a snapshot of the routing table with live target state,
// in the order the services were given.
func (p *Proxy) Services() []ServiceInfo {
	tbl := p.table.Load()
	out := make([]ServiceInfo, 0, len(tbl.specs))
	for _, spec := range tbl.specs {
		s := tbl.services[spec.Name]
		info := ServiceInfo{
			Name:        s.name,
			Hosts:       slices.Clone(spec.Hosts),
			PathPrefix:  spec.PathPrefix,
			StripPrefix: spec.StripPrefix,
			Balance:     spec.Balance,
			Active:      s.active.info(),
			Weight:      spec.Weight,
		}
		info.FailOpen = info.Active.FailOpen
		if s.candidate != nil {
			c := s.candidate.info()
			info.Candidate = &c
			info.FailOpen = info.FailOpen || c.FailOpen
		}
		out = append(out, info)
	}
	return out
}

func (s *targetSet) info() SetInfo {
	si := SetInfo{Version: s.version, Targets: make([]TargetInfo, len(s.targets)), FailOpen: s.isFailOpen()}
	for i, t := range s.targets {
		si.Targets[i] = TargetInfo{
			ID:       t.id,
			Addr:     t.addr,
			Healthy:  t.healthy.Load(),
			Ejected:  t.ejected.Load(),
			Draining: t.draining.Load(),
			InFlight: t.inflight.Load(),
		}
	}
	return si
}
