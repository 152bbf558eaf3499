package fleet

import "slices"

// fleetState is a decoded snapshot of the fleet's keys.
type fleetState struct {
	rev     int64
	synced  bool
	hosts   map[string]HostRecord
	actives map[string]activeKV
	locks   map[string]lockKV
	retires map[string]retireKV
	deploys map[string]*deployKV
}

type activeKV struct {
	Active
	rev int64 // ModRevision: the fencing token
	// rolling marks the version of a rolling deploy that switched this
	// host's batch (not yet the fleet's committed version).
	rolling bool
}

type lockKV struct {
	Lock
	raw []byte
	rev int64
}

type retireKV struct {
	Retire
	rev int64
}

// deployKV is everything stored under one deploy. Its per-host maps are
// nil while empty; it is read-only once decoded.
type deployKV struct {
	id       string
	plan     *Plan
	state    *State
	stateRaw []byte
	stateRev int64
	prepared map[string]Prepared
	failed   map[string]Failure
	switched map[string]Ack
	undone   map[string]Ack
	stats    map[string]HostStats
	canary   *CanaryState
	control  *Control
	ctlRev   int64
	batch    *BatchState
}

func (d *deployKV) phase() Phase {
	if d.state == nil {
		return ""
	}
	return d.state.Phase
}

// decodeKind decodes the value of a key of the given kind (see
// keys.parse); nil when it does not decode.
func decodeKind(kind string, raw []byte) any {
	switch kind {
	case "host":
		return decodedOrNil[HostRecord](raw)
	case "active":
		return decodedOrNil[Active](raw)
	case "lock":
		return decodedOrNil[Lock](raw)
	case "retire":
		return decodedOrNil[Retire](raw)
	case "plan":
		return decodedOrNil[Plan](raw)
	case "state":
		return decodedOrNil[State](raw)
	case "prepared":
		return decodedOrNil[Prepared](raw)
	case "failed":
		return decodedOrNil[Failure](raw)
	case "switched", "undone":
		return decodedOrNil[Ack](raw)
	case "stats":
		return decodedOrNil[HostStats](raw)
	case "canary":
		return decodedOrNil[CanaryState](raw)
	case "control":
		return decodedOrNil[Control](raw)
	case "batch":
		return decodedOrNil[BatchState](raw)
	}
	return nil
}

func decodedOrNil[T any](raw []byte) any {
	v, err := decode[T](raw)
	if err != nil {
		return nil
	}
	return v
}

// decodeState builds the fleet's state from a snapshot, whose values the
// view decoded as they arrived.
func decodeState(snap snapshot) *fleetState {
	// Size the maps once: a deploy's per-host maps hold at most one entry a
	// host, and stay nil (readable, empty) until one is stored.
	nHosts, nServices, nDeploys := 0, 0, 0
	for _, m := range snap.kvs {
		switch m.kind {
		case "host":
			nHosts++
		case "active":
			nServices++
		case "state":
			nDeploys++
		}
	}
	fs := &fleetState{
		rev: snap.rev, synced: snap.synced,
		hosts: make(map[string]HostRecord, nHosts), actives: make(map[string]activeKV, nServices),
		locks: map[string]lockKV{}, retires: map[string]retireKV{}, deploys: make(map[string]*deployKV, nDeploys),
	}
	dep := func(id string) *deployKV {
		d := fs.deploys[id]
		if d == nil {
			d = &deployKV{id: id}
			fs.deploys[id] = d
		}
		return d
	}
	perHost := func(size int) int { return max(size, 1) }
	for _, m := range snap.kvs {
		switch m.kind {
		case "host":
			if v, ok := m.val.(HostRecord); ok {
				fs.hosts[m.a] = v
			}
		case "active":
			if v, ok := m.val.(Active); ok {
				fs.actives[m.a] = activeKV{Active: v, rev: m.kv.ModRevision}
			}
		case "lock":
			if v, ok := m.val.(Lock); ok {
				fs.locks[m.a] = lockKV{Lock: v, raw: m.kv.Value, rev: m.kv.ModRevision}
			}
		case "retire":
			if v, ok := m.val.(Retire); ok {
				fs.retires[m.a] = retireKV{Retire: v, rev: m.kv.ModRevision}
			}
		case "plan":
			if v, ok := m.val.(Plan); ok {
				dep(m.a).plan = &v
			}
		case "state":
			if v, ok := m.val.(State); ok {
				d := dep(m.a)
				d.state, d.stateRaw, d.stateRev = &v, m.kv.Value, m.kv.ModRevision
			}
		case "prepared":
			if v, ok := m.val.(Prepared); ok {
				d := dep(m.a)
				if d.prepared == nil {
					d.prepared = make(map[string]Prepared, perHost(nHosts))
				}
				d.prepared[m.b] = v
			}
		case "failed":
			if v, ok := m.val.(Failure); ok {
				d := dep(m.a)
				if d.failed == nil {
					d.failed = map[string]Failure{}
				}
				d.failed[m.b] = v
			}
		case "switched":
			if v, ok := m.val.(Ack); ok {
				d := dep(m.a)
				if d.switched == nil {
					d.switched = make(map[string]Ack, perHost(nHosts))
				}
				d.switched[m.b] = v
			}
		case "undone":
			if v, ok := m.val.(Ack); ok {
				d := dep(m.a)
				if d.undone == nil {
					d.undone = map[string]Ack{}
				}
				d.undone[m.b] = v
			}
		case "stats":
			if v, ok := m.val.(HostStats); ok {
				d := dep(m.a)
				if d.stats == nil {
					d.stats = make(map[string]HostStats, perHost(nHosts))
				}
				d.stats[m.b] = v
			}
		case "canary":
			if v, ok := m.val.(CanaryState); ok {
				dep(m.a).canary = &v
			}
		case "control":
			if v, ok := m.val.(Control); ok {
				d := dep(m.a)
				d.control, d.ctlRev = &v, m.kv.ModRevision
			}
		case "batch":
			if v, ok := m.val.(BatchState); ok {
				dep(m.a).batch = &v
			}
		}
	}
	return fs
}

// hostNames returns the registered hosts, sorted.
func (fs *fleetState) hostNames() []string {
	out := make([]string, 0, len(fs.hosts))
	for h := range fs.hosts {
		out = append(out, h)
	}
	slices.Sort(out)
	return out
}

// openDeploy returns the service's deploy that is not finished, if any.
func (fs *fleetState) openDeploy(service string) *deployKV {
	for _, d := range fs.deploys {
		if d.plan != nil && d.plan.Service == service && d.state != nil && !d.phase().Terminal() {
			return d
		}
	}
	return nil
}

// kvRev returns a key's ModRevision in the snapshot (0 when missing).
func kvRev(snap snapshot, key string) int64 {
	if kv, ok := snap.get(key); ok {
		return kv.ModRevision
	}
	return 0
}
