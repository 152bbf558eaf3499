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

// deployKV is everything stored under one deploy.
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

func decodeState(k keys, snap snapshot) *fleetState {
	fs := &fleetState{
		rev: snap.rev, synced: snap.synced,
		hosts: map[string]HostRecord{}, actives: map[string]activeKV{}, locks: map[string]lockKV{},
		retires: map[string]retireKV{}, deploys: map[string]*deployKV{},
	}
	dep := func(id string) *deployKV {
		d := fs.deploys[id]
		if d == nil {
			d = &deployKV{id: id, prepared: map[string]Prepared{}, failed: map[string]Failure{},
				switched: map[string]Ack{}, undone: map[string]Ack{}, stats: map[string]HostStats{}}
			fs.deploys[id] = d
		}
		return d
	}
	for key, kv := range snap.kvs {
		kind, a, b, ok := k.parse(key)
		if !ok {
			continue
		}
		switch kind {
		case "host":
			if v, err := decode[HostRecord](kv.Value); err == nil {
				fs.hosts[a] = v
			}
		case "active":
			if v, err := decode[Active](kv.Value); err == nil {
				fs.actives[a] = activeKV{Active: v, rev: kv.ModRevision}
			}
		case "lock":
			if v, err := decode[Lock](kv.Value); err == nil {
				fs.locks[a] = lockKV{Lock: v, raw: kv.Value, rev: kv.ModRevision}
			}
		case "retire":
			if v, err := decode[Retire](kv.Value); err == nil {
				fs.retires[a] = retireKV{Retire: v, rev: kv.ModRevision}
			}
		case "plan":
			if v, err := decode[Plan](kv.Value); err == nil {
				dep(a).plan = &v
			}
		case "state":
			if v, err := decode[State](kv.Value); err == nil {
				d := dep(a)
				d.state, d.stateRaw, d.stateRev = &v, kv.Value, kv.ModRevision
			}
		case "prepared":
			if v, err := decode[Prepared](kv.Value); err == nil {
				dep(a).prepared[b] = v
			}
		case "failed":
			if v, err := decode[Failure](kv.Value); err == nil {
				dep(a).failed[b] = v
			}
		case "switched":
			if v, err := decode[Ack](kv.Value); err == nil {
				dep(a).switched[b] = v
			}
		case "undone":
			if v, err := decode[Ack](kv.Value); err == nil {
				dep(a).undone[b] = v
			}
		case "stats":
			if v, err := decode[HostStats](kv.Value); err == nil {
				dep(a).stats[b] = v
			}
		case "canary":
			if v, err := decode[CanaryState](kv.Value); err == nil {
				dep(a).canary = &v
			}
		case "control":
			if v, err := decode[Control](kv.Value); err == nil {
				d := dep(a)
				d.control, d.ctlRev = &v, kv.ModRevision
			}
		case "batch":
			if v, err := decode[BatchState](kv.Value); err == nil {
				dep(a).batch = &v
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
