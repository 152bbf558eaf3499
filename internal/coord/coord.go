// Package coord is cutover's coordination store: a revisioned key-value
// map with guarded multi-key transactions, watches from a revision, and
// leases. It is the one interface the fleet protocol runs on, with two
// backends: Local (embedded, one host, no external service) and Etcd (a
// cluster the user runs). The contract suite in coordtest runs against both.
//
// The model is etcd's: every successful write transaction gets the next
// store revision; a key records the revision that created it and the one
// that last modified it; a watch delivers, in revision order, every change
// under a prefix after a given revision; a key written with a lease is
// deleted when the lease expires or is revoked.
package coord

import (
	"context"
	"errors"
	"time"
)

// Errors returned by stores.
var (
	// ErrCompacted reports a watch from a revision the store no longer
	// keeps: the watcher must re-list (Get the prefix) and watch from the
	// revision of that read.
	ErrCompacted = errors.New("revision compacted")
	// ErrLeaseNotFound reports a lease that expired or was revoked.
	ErrLeaseNotFound = errors.New("lease not found")
	// ErrClosed reports use of a store after Close.
	ErrClosed = errors.New("coordination store is closed")
	// ErrUnavailable reports a store that cannot be reached (no quorum,
	// partitioned); the caller may retry.
	ErrUnavailable = errors.New("coordination store unavailable")
	// ErrTooManyOps reports a transaction with more compares or operations
	// than the store accepts in one transaction (etcd's --max-txn-ops).
	ErrTooManyOps = errors.New("too many operations in one transaction")
)

// LeaseID names a lease; 0 is no lease.
type LeaseID int64

// KV is one stored key.
type KV struct {
	Key   string
	Value []byte
	// CreateRevision is the revision that created the key (0: not stored).
	CreateRevision int64
	// ModRevision is the revision that last wrote the key.
	ModRevision int64
	// Version counts writes since the key was created (1 after creation).
	Version int64
	// Lease is the lease the key is attached to (0: none).
	Lease LeaseID
}

// CmpTarget is what a Cmp looks at.
type CmpTarget int

// Compare targets.
const (
	// CmpValue compares the key's value with Cmp.Value.
	CmpValue CmpTarget = iota
	// CmpModRevision compares the key's ModRevision with Cmp.Rev (0 for a
	// missing key).
	CmpModRevision
	// CmpCreateRevision compares the key's CreateRevision with Cmp.Rev (0
	// for a missing key).
	CmpCreateRevision
)

// CmpOp is the comparison of a Cmp.
type CmpOp int

// Comparison operators.
const (
	Equal CmpOp = iota
	NotEqual
	Less
	Greater
)

// Cmp is one condition of a transaction. A value compare on a missing key
// is false whatever the operator (as in etcd).
type Cmp struct {
	Key    string
	Target CmpTarget
	Op     CmpOp
	Value  []byte
	Rev    int64
}

// ValueIs holds when key exists with exactly value v.
func ValueIs(key string, v []byte) Cmp { return Cmp{Key: key, Target: CmpValue, Op: Equal, Value: v} }

// ModRevisionIs holds when key was last written at rev (0: the key is missing).
func ModRevisionIs(key string, rev int64) Cmp {
	return Cmp{Key: key, Target: CmpModRevision, Op: Equal, Rev: rev}
}

// Missing holds when key does not exist.
func Missing(key string) Cmp { return Cmp{Key: key, Target: CmpCreateRevision, Op: Equal, Rev: 0} }

// Exists holds when key exists.
func Exists(key string) Cmp { return Cmp{Key: key, Target: CmpCreateRevision, Op: Greater, Rev: 0} }

// OpKind is what an Op does.
type OpKind int

// Operation kinds.
const (
	OpPut OpKind = iota
	OpDelete
	// OpDeletePrefix deletes every key starting with Op.Key.
	OpDeletePrefix
)

// Op is one write of a transaction.
type Op struct {
	Kind  OpKind
	Key   string
	Value []byte
	// Lease attaches a put key to a lease (0: none).
	Lease LeaseID
}

// Put writes key=value.
func Put(key string, value []byte) Op { return Op{Kind: OpPut, Key: key, Value: value} }

// PutWithLease writes key=value attached to lease.
func PutWithLease(key string, value []byte, lease LeaseID) Op {
	return Op{Kind: OpPut, Key: key, Value: value, Lease: lease}
}

// Delete removes key.
func Delete(key string) Op { return Op{Kind: OpDelete, Key: key} }

// DeletePrefix removes every key under prefix.
func DeletePrefix(prefix string) Op { return Op{Kind: OpDeletePrefix, Key: prefix} }

// Txn is a guarded transaction: when every If holds, Then is applied, else
// Else; either way atomically, at one revision, strictly serialised with
// every other transaction.
type Txn struct {
	If   []Cmp
	Then []Op
	Else []Op
}

// TxnResult is the outcome of a transaction.
type TxnResult struct {
	// Succeeded reports that every If held and Then was applied.
	Succeeded bool
	// Revision is the store revision after the transaction (unchanged when
	// the applied branch wrote nothing).
	Revision int64
}

// EventType says what happened to a key.
type EventType int

// Event types.
const (
	EventPut EventType = iota
	EventDelete
)

// Event is one change of one key. For a delete, KV holds the key and the
// revision of the delete in ModRevision, and no value.
type Event struct {
	Type EventType
	KV   KV
}

// WatchResponse is a batch of events, all at or below Revision, in
// revision order. Events of one transaction arrive in one response. Err
// set means the watch has ended (ErrCompacted: re-list and watch again;
// ErrUnavailable: the store was lost; the context's error on cancel) and
// the channel is closed after it.
type WatchResponse struct {
	Events   []Event
	Revision int64
	Err      error
}

// Store is a coordination store. Implementations are safe for concurrent
// use. Keys are plain strings; callers keep their own prefix.
type Store interface {
	// Get returns key (Found false when missing) and the store revision
	// of the read.
	Get(ctx context.Context, key string) (kv KV, found bool, rev int64, err error)
	// List returns every key under prefix, sorted by key, and the store
	// revision of the read.
	List(ctx context.Context, prefix string) (kvs []KV, rev int64, err error)
	// Txn applies a guarded transaction.
	Txn(ctx context.Context, t Txn) (TxnResult, error)
	// Watch delivers every change under prefix with a revision ≥ fromRev
	// (fromRev 0: from now on) until ctx is done or an error ends it. A
	// fromRev older than the store keeps ends the watch at once with
	// ErrCompacted.
	Watch(ctx context.Context, prefix string, fromRev int64) <-chan WatchResponse
	// Grant creates a lease that expires ttl after its last renewal.
	Grant(ctx context.Context, ttl time.Duration) (LeaseID, error)
	// KeepAliveOnce renews a lease and returns its TTL; ErrLeaseNotFound
	// when it expired or was revoked.
	KeepAliveOnce(ctx context.Context, id LeaseID) (time.Duration, error)
	// Revoke ends a lease now, deleting its keys. Revoking an unknown
	// lease is not an error.
	Revoke(ctx context.Context, id LeaseID) error
	// Close releases the store; watches end. It is idempotent.
	Close() error
}
