package fleet

import (
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/cutover-dev/cutover/internal/coord"
)

// ReadyPath is the load balancer's health check path, served on the public
// listeners ahead of every route: 200 while this host holds a live lease
// and routes the latest committed version of every service, else 503 with
// the reason.
const ReadyPath = "/.cutover/ready"

// ReadyHandler serves ReadyPath. The body is one line of text, or JSON when
// the request accepts application/json.
func (a *Agent) ReadyHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok, reason := a.Ready()
		code := http.StatusOK
		if !ok {
			code = http.StatusServiceUnavailable
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Cutover-Host", a.opts.Name)
		if r.Header.Get("Accept") == "application/json" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			_ = json.NewEncoder(w).Encode(map[string]any{"ready": ok, "host": a.opts.Name, "reason": reason})
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(code)
		if ok {
			_, _ = w.Write([]byte("ready\n"))
			return
		}
		_, _ = w.Write([]byte("not ready: " + reason + "\n"))
	})
}

// HostStatus is one host as shown by status.
type HostStatus struct {
	Name     string             `json:"name"`
	Ready    bool               `json:"ready"`
	Reason   string             `json:"reason,omitempty"`
	Since    time.Time          `json:"since"`
	Services map[string]Applied `json:"services,omitempty"`
	// Lost marks a host a running or the last deploy could not reach.
	Lost bool `json:"lost,omitempty"`
}

// DeployStatus is a fleet operation in progress as shown by status.
type DeployStatus struct {
	ID          string   `json:"id"`
	Kind        Kind     `json:"kind"`
	Service     string   `json:"service"`
	Version     string   `json:"version"`
	From        string   `json:"from,omitempty"`
	Phase       Phase    `json:"phase"`
	Coordinator string   `json:"coordinator"`
	Hosts       []string `json:"hosts"`
	Prepared    []string `json:"prepared,omitempty"`
	Failed      []string `json:"failed,omitempty"`
	Switched    []string `json:"switched,omitempty"`
	Strategy    string   `json:"strategy,omitempty"`
	// Canary is a fleet canary's step and weight, with each host's numbers.
	Canary      *CanaryState          `json:"canary,omitempty"`
	CanaryHosts map[string]CanaryHost `json:"canary_hosts,omitempty"`
	// Batch is where a rolling deploy is.
	Batch *BatchState `json:"batch,omitempty"`
}

// CanaryHost is one host's part of a fleet canary as shown by status.
type CanaryHost struct {
	Weight           float64 `json:"weight"`
	CanaryRequests   int64   `json:"canary_requests"`
	CanaryErrors     int64   `json:"canary_errors"`
	BaselineRequests int64   `json:"baseline_requests"`
	BaselineErrors   int64   `json:"baseline_errors"`
	Unhealthy        string  `json:"unhealthy,omitempty"`
}

// ServiceCommit is a service's committed version as shown by status.
type ServiceCommit struct {
	Service  string    `json:"service"`
	Version  string    `json:"version"`
	Previous string    `json:"previous,omitempty"`
	Deploy   string    `json:"deploy"`
	Revision int64     `json:"revision"`
	At       time.Time `json:"at"`
}

// Status is the fleet as this host sees it.
type Status struct {
	// Host is the host that answered.
	Host     string          `json:"host"`
	Revision int64           `json:"revision"`
	Synced   bool            `json:"synced"`
	Hosts    []HostStatus    `json:"hosts"`
	Services []ServiceCommit `json:"services"`
	Deploys  []DeployStatus  `json:"deploys,omitempty"`
}

// Status returns the fleet as this host's mirror shows it.
func (a *Agent) Status() Status {
	snap, _ := a.view.read()
	fs := decodeState(snap)
	out := Status{Host: a.opts.Name, Revision: fs.rev, Synced: fs.synced}
	for _, h := range fs.hostNames() {
		r := fs.hosts[h]
		out.Hosts = append(out.Hosts, HostStatus{Name: h, Ready: r.Ready, Reason: r.Reason, Since: r.Started, Services: r.Services})
	}
	for svc, act := range fs.actives {
		out.Services = append(out.Services, ServiceCommit{Service: svc, Version: act.Version, Previous: act.Previous, Deploy: act.Deploy, Revision: act.rev, At: act.At})
	}
	slices.SortFunc(out.Services, func(x, y ServiceCommit) int {
		if x.Service < y.Service {
			return -1
		}
		if x.Service > y.Service {
			return 1
		}
		return 0
	})
	for _, d := range fs.deploys {
		if d.plan == nil || d.state == nil {
			continue
		}
		ds := DeployStatus{ID: d.id, Kind: d.plan.Kind, Service: d.plan.Service, Version: d.plan.Version, From: d.plan.From,
			Phase: d.phase(), Coordinator: d.plan.Coordinator, Hosts: d.plan.Hosts,
			Strategy: d.plan.Strategy, Canary: d.canary, Batch: d.batch}
		for h, hs := range d.stats {
			if ds.CanaryHosts == nil {
				ds.CanaryHosts = map[string]CanaryHost{}
			}
			ds.CanaryHosts[h] = CanaryHost{Weight: hs.Weight, CanaryRequests: hs.Canary.Requests, CanaryErrors: hs.Canary.Status5xx,
				BaselineRequests: hs.Baseline.Requests, BaselineErrors: hs.Baseline.Status5xx, Unhealthy: hs.Unhealthy}
		}
		for _, h := range d.plan.Hosts {
			if _, ok := d.prepared[h]; ok {
				ds.Prepared = append(ds.Prepared, h)
			}
			if _, ok := d.failed[h]; ok {
				ds.Failed = append(ds.Failed, h)
			}
			if _, ok := d.switched[h]; ok {
				ds.Switched = append(ds.Switched, h)
			}
		}
		for _, h := range d.plan.Hosts {
			if _, alive := fs.hosts[h]; !alive && !slices.ContainsFunc(out.Hosts, func(x HostStatus) bool { return x.Name == h }) {
				out.Hosts = append(out.Hosts, HostStatus{Name: h, Lost: true, Reason: "lease expired; named by deploy " + d.id})
			}
		}
		out.Deploys = append(out.Deploys, ds)
	}
	return out
}

// Remove takes a host out of the fleet: its registration is deleted (its
// lease, if any, is left to expire) so plans stop naming it. A host that
// is still running registers again on its next lease renewal failure;
// stop its cutover first.
func (a *Agent) Remove(name string) error {
	if !hostNameRE.MatchString(name) {
		return ErrBadOptions
	}
	_, err := a.opts.Store.Txn(a.ctx, coord.Txn{Then: []coord.Op{coord.Delete(a.keys.host(name))}})
	return err
}
