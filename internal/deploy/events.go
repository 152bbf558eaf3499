package deploy

import (
	"sync"
)

// maxOpsKept is how many operations' event logs the bus keeps for replay.
const maxOpsKept = 32

// maxEventsPerOp bounds one operation's replay log.
const maxEventsPerOp = 1024

// bus fans operation events out to subscribers and keeps the recent events
// of each operation so a subscriber that arrives late sees them all.
// It is safe for concurrent use.
type bus struct {
	mu     sync.Mutex
	logs   map[string][]Event // op id → events
	order  []string           // op ids, oldest first
	done   map[string]bool
	subs   map[*subscriber]struct{}
	closed bool
}

type subscriber struct {
	service, op string
	ch          chan Event
	once        sync.Once
}

func (s *subscriber) close() { s.once.Do(func() { close(s.ch) }) }

func (s *subscriber) wants(e Event) bool {
	if s.op != "" {
		return e.OpID == s.op
	}
	return s.service == "" || s.service == e.Service
}

func newBus() *bus {
	return &bus{logs: map[string][]Event{}, done: map[string]bool{}, subs: map[*subscriber]struct{}{}}
}

// publish records e and delivers it to matching subscribers. A subscriber
// that cannot keep up (buffer full) is dropped rather than blocking deploys.
func (b *bus) publish(e Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	if _, ok := b.logs[e.OpID]; !ok {
		b.order = append(b.order, e.OpID)
		if len(b.order) > maxOpsKept {
			old := b.order[0]
			b.order = b.order[1:]
			delete(b.logs, old)
			delete(b.done, old)
		}
	}
	if len(b.logs[e.OpID]) < maxEventsPerOp || e.Type == EventDone {
		b.logs[e.OpID] = append(b.logs[e.OpID], e)
	}
	if e.Type == EventDone {
		b.done[e.OpID] = true
	}
	for s := range b.subs {
		if !s.wants(e) {
			continue
		}
		select {
		case s.ch <- e:
		default:
			delete(b.subs, s)
			s.close()
			continue
		}
		if s.op != "" && e.Type == EventDone {
			delete(b.subs, s)
			s.close()
		}
	}
}

// subscribe returns a channel with the replayed events of op (when op is
// set) followed by live ones. The channel is closed after op's EventDone,
// on cancel, or when the bus closes.
func (b *bus) subscribe(service, op string) (<-chan Event, func(), bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := &subscriber{service: service, op: op}
	var replay []Event
	if op != "" {
		l, ok := b.logs[op]
		if !ok {
			return nil, nil, false
		}
		replay = l
	}
	s.ch = make(chan Event, len(replay)+256)
	for _, e := range replay {
		s.ch <- e
	}
	if b.closed || (op != "" && b.done[op]) {
		s.close()
		return s.ch, func() {}, true
	}
	b.subs[s] = struct{}{}
	cancel := func() {
		b.mu.Lock()
		delete(b.subs, s)
		b.mu.Unlock()
		s.close()
	}
	return s.ch, cancel, true
}

// close ends every subscription.
func (b *bus) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for s := range b.subs {
		s.close()
	}
	clear(b.subs)
}
